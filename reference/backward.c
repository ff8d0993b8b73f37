/*
 * backward.c: the reference backward (SPEC section 5), deterministic by construction.
 *
 * Every ring step uses the FINAL out and lse the caller passes. With P = exp(scale S - lse)
 * (the forward's masks), Z the regenerated dropout mask and s = keep_scale:
 *   D = rowsum(dO * O),  dV += (P Z s)^T dO,  dP = (dO V^T) Z s,  dS = P (dP - D),
 *   dQ += scale dS K,    dK += scale dS^T Q.
 * Each dqkv element has exactly one writer with a fixed summation order, so the result is
 * bit-identical run to run and for any number of threads:
 * - pass 0, one task per (query tile, query head): D = rowsum(dO * O);
 * - pass 1, one task per (key tile, KV head): dK and dV of the tile travel the ring with their
 *   K/V block: ring steps t = 0..n-1 (member (j + t) mod n holds the block), that member's blocks,
 *   query tiles and the r query heads of the group, in that order, summed in fp32;
 * - pass 2, one task per (query tile, query head): dQ over the ring steps and key tiles in order.
 * Passes 1 and 2 recompute P; results are rounded to the dtype once, at the end.
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reference.h"
#include "status.h"

typedef struct backward {
    const pattn_bwd_io_t *io;
    ref_tile_t *tiles;
    float **dsum; /* per member, in the lse layout: rowsum(dO * O) */
} backward_t;

typedef struct pair_state {
    const ref_ctx_t *c;
    const backward_t *b;
    ref_work_t *w;
    int64_t head; /* pass 1: the KV head; pass 2: the query head */
} pair_state_t;

/* Loads Q and dO (into w->q, w->o), lse and D (into w->lse, w->dsum) of query tile q, head h. */
static void load_query_side(const ref_ctx_t *c, const backward_t *b, ref_work_t *w,
                            const ref_tile_t *q, int64_t h)
{
    const pattn_problem_t *p = c->p;
    int64_t D = p->D, row = ref_tile_qkv_row(p, q);
    int k = q->member;
    ref_load_rows(p->dtype, c->qkv[k], p->qkv_cols, row, q->len, h * D, D, w->q);
    ref_load_rows(p->dtype, b->io->dout[k], p->out_cols, row, q->len, h * D, D, w->o);
    for (int64_t i = 0; i < q->len; ++i) {
        int64_t at = pattn_lse_index(p, k, q->unit, h, q->row + i);
        w->lse[i] = b->io->lse[k][at];
        w->dsum[i] = b->dsum[k][at];
    }
}

/* Loads K and V (into w->k, w->v) of key tile kt, KV head g. */
static void load_key_side(const ref_ctx_t *c, ref_work_t *w, const ref_tile_t *kt, int64_t g)
{
    const pattn_problem_t *p = c->p;
    int64_t D = p->D, row = ref_tile_qkv_row(p, kt);
    const void *qkv = c->qkv[kt->member];
    ref_load_rows(p->dtype, qkv, p->qkv_cols, row, kt->len, (p->Hq + g) * D, D, w->k);
    ref_load_rows(p->dtype, qkv, p->qkv_cols, row, kt->len, (p->Hq + p->Hkv + g) * D, D, w->v);
}

/* w->s = P = exp(scale S - lse), 0 where masked; w->keep = the dropout bytes (with dropout). */
static void probabilities(const ref_ctx_t *c, ref_work_t *w, const ref_pair_t *pair, int64_t h)
{
    ref_scores(c, w, pair);
    if (c->p->p_dropout > 0)
        ref_dropout_bytes(c, w, pair, h);
    for (int64_t i = 0; i < pair->q.len; ++i) {
        float *s = w->s + i * REF_BC, lse = w->lse[i];
        if (lse == -INFINITY) { /* a row that sees no key anywhere has P = 0 */
            memset(s, 0, (size_t)pair->k.len * sizeof *s);
            continue;
        }
        ref_row_exp(s, pair->k.len, lse);
    }
}

/* The pair's m x n tile `src` with dropout applied: src Z keep_scale written to dst (which may
 * be src), or src itself without dropout (Z = 1, keep_scale = 1). */
static const float *with_dropout(const pattn_problem_t *p, const ref_work_t *w,
                                 const ref_pair_t *pair, const float *src, float *dst)
{
    if (p->p_dropout == 0)
        return src;
    for (int64_t i = 0; i < pair->q.len; ++i)
        ref_row_dropout(dst + i * REF_BC, src + i * REF_BC, w->keep + i * REF_BC, pair->k.len,
                        p->keep_threshold, p->keep_scale);
    return dst;
}

/* With P in w->s: w->dp = dO V^T, then w->s = dS = P (dP Z keep_scale - D). */
static void score_gradients(const ref_ctx_t *c, ref_work_t *w, const ref_pair_t *pair)
{
    int64_t m = pair->q.len, n = pair->k.len, D = c->p->D;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, (int)D, 1.0f, w->o,
                (int)D, w->v, (int)D, 0.0f, w->dp, REF_BC);
    with_dropout(c->p, w, pair, w->dp, w->dp);
    for (int64_t i = 0; i < m; ++i)
        ref_row_score_grad(w->s + i * REF_BC, w->dp + i * REF_BC, n, w->dsum[i]);
}

/* Pass 1: one query tile against the task's key tile, for each query head of the KV group. */
static void dkdv_pair(void *user, const ref_pair_t *pair)
{
    const pair_state_t *st = user;
    const pattn_problem_t *p = st->c->p;
    ref_work_t *w = st->w;
    int64_t m = pair->q.len, n = pair->k.len, D = p->D;
    for (int64_t h = st->head * p->r; h < (st->head + 1) * p->r; ++h) {
        load_query_side(st->c, st->b, w, &pair->q, h);
        probabilities(st->c, w, pair, h);
        const float *pz = with_dropout(p, w, pair, w->s, w->dp);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n, (int)D, (int)m, 1.0f, pz,
                    REF_BC, w->o, (int)D, 1.0f, w->dv, (int)D);
        score_gradients(st->c, w, pair);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n, (int)D, (int)m, p->scale,
                    w->s, REF_BC, w->q, (int)D, 1.0f, w->dk, (int)D);
    }
}

static void dkdv_task(const ref_ctx_t *c, ref_work_t *w, int64_t task, void *user)
{
    const backward_t *b = user;
    const pattn_problem_t *p = c->p;
    const ref_tile_t *kt = &b->tiles[task / p->Hkv];
    int64_t g = task % p->Hkv, D = p->D, row = ref_tile_qkv_row(p, kt);
    load_key_side(c, w, kt, g);
    memset(w->dk, 0, (size_t)(kt->len * D) * sizeof *w->dk);
    memset(w->dv, 0, (size_t)(kt->len * D) * sizeof *w->dv);
    pair_state_t st = {c, b, w, g};
    for (int t = 0; t < p->n; ++t)
        ref_for_each_query_tile(c, kt, t, dkdv_pair, &st);
    void *dqkv = b->io->dqkv[kt->member];
    ref_store_rows(p->dtype, dqkv, p->qkv_cols, row, kt->len, (p->Hq + g) * D, D, w->dk);
    ref_store_rows(p->dtype, dqkv, p->qkv_cols, row, kt->len, (p->Hq + p->Hkv + g) * D, D, w->dv);
}

/* Pass 2: one key tile against the task's query tile and head. */
static void dq_pair(void *user, const ref_pair_t *pair)
{
    const pair_state_t *st = user;
    const pattn_problem_t *p = st->c->p;
    ref_work_t *w = st->w;
    load_key_side(st->c, w, &pair->k, st->head / p->r);
    probabilities(st->c, w, pair, st->head);
    score_gradients(st->c, w, pair);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)pair->q.len, (int)p->D,
                (int)pair->k.len, p->scale, w->s, REF_BC, w->k, (int)p->D, 1.0f, w->acc,
                (int)p->D);
}

static void dq_task(const ref_ctx_t *c, ref_work_t *w, int64_t task, void *user)
{
    const backward_t *b = user;
    const pattn_problem_t *p = c->p;
    const ref_tile_t *q = &b->tiles[task / p->Hq];
    int64_t h = task % p->Hq, D = p->D;
    load_query_side(c, b, w, q, h);
    memset(w->acc, 0, (size_t)(q->len * D) * sizeof *w->acc);
    pair_state_t st = {c, b, w, h};
    for (int t = 0; t < p->n; ++t)
        ref_for_each_key_tile(c, q, t, dq_pair, &st);
    ref_store_rows(p->dtype, b->io->dqkv[q->member], p->qkv_cols, ref_tile_qkv_row(p, q), q->len,
                   h * D, D, w->acc);
}

/* D = rowsum(dO * O) of one query tile and head, from the out the caller passes. */
static void dsum_task(const ref_ctx_t *c, ref_work_t *w, int64_t task, void *user)
{
    const backward_t *b = user;
    const pattn_problem_t *p = c->p;
    const ref_tile_t *q = &b->tiles[task / p->Hq];
    int64_t h = task % p->Hq, D = p->D, row = ref_tile_qkv_row(p, q);
    int k = q->member;
    ref_load_rows(p->dtype, b->io->out[k], p->out_cols, row, q->len, h * D, D, w->acc);
    ref_load_rows(p->dtype, b->io->dout[k], p->out_cols, row, q->len, h * D, D, w->o);
    for (int64_t i = 0; i < q->len; ++i) {
        float sum = 0.0f;
        for (int64_t x = 0; x < D; ++x)
            sum += w->acc[i * D + x] * w->o[i * D + x];
        b->dsum[k][pattn_lse_index(p, k, q->unit, h, q->row + i)] = sum;
    }
}

/* Runs pass `fn` over the query or key tiles (orientation o), `heads` tasks per tile. */
static pattnResult_t run_pass(const ref_ctx_t *c, backward_t *b, pattn_orient_t o, int64_t heads,
                              ref_task_fn fn)
{
    int64_t count;
    pattnResult_t r = ref_make_tiles(c, o, &b->tiles, &count);
    if (r == pattnSuccess)
        r = ref_parallel_tasks(c, count * heads, fn, b);
    free(b->tiles);
    b->tiles = NULL;
    return r;
}

pattnResult_t ref_backward(const pattn_problem_t *p, pattn_rng_t rng, const pattn_bwd_io_t *io)
{
    ref_ctx_t c = {p, rng, {0}, {0}, io->qkv};
    backward_t b = {io, NULL, calloc((size_t)p->n, sizeof(float *))};
    pattnResult_t r = b.dsum ? ref_items_build(&c, PATTN_QUERY_MAJOR)
                             : pattn_error(pattnSystemError, "reference: out of host memory");
    if (r == pattnSuccess)
        r = ref_items_build(&c, PATTN_KEY_MAJOR);
    for (int k = 0; r == pattnSuccess && k < p->n; ++k)
        if (!(b.dsum[k] = malloc((size_t)(pattn_lse_elems(p, k) + 1) * sizeof(float))))
            r = pattn_error(pattnSystemError,
                            "reference: out of host memory (rowsum(dO * O) of member %d)", k);
    if (r == pattnSuccess)
        r = run_pass(&c, &b, PATTN_QUERY_MAJOR, p->Hq, dsum_task);
    if (r == pattnSuccess)
        r = run_pass(&c, &b, PATTN_KEY_MAJOR, p->Hkv, dkdv_task);
    if (r == pattnSuccess)
        r = run_pass(&c, &b, PATTN_QUERY_MAJOR, p->Hq, dq_task);
    for (int k = 0; b.dsum && k < p->n; ++k)
        free(b.dsum[k]);
    free(b.dsum);
    ref_items_free(&c);
    return r;
}
