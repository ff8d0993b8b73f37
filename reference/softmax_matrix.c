/*
 * softmax_matrix.c: the return_softmax output (SPEC section 5), a second pass after the ring.
 *
 * Member k's array is (units, Hq, Lq_max(k), Nk_max) fp32: rows are k's local query rows of the
 * unit in local order, columns the unit's GLOBAL key positions. For every query tile and head the
 * pass walks the same ring steps and key tiles as the forward (so every key is scored against its
 * owner's K, with the plan's masks), and writes exp(scale q.k - lse) with the final lse, the sign
 * bit set where dropout dropped the element. Masked and padding entries stay +0.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fast_exp.h"
#include "reference.h"

typedef struct softmax_pass {
    const pattn_fwd_io_t *io;
    ref_tile_t *tiles;
} softmax_pass_t;

typedef struct softmax_tile {
    const ref_ctx_t *c;
    ref_work_t *w;
    int64_t h;
    float *rows; /* the tile's first row in the output: row i, key position j at rows[i nk + j] */
} softmax_tile_t;

static void softmax_pair(void *user, const ref_pair_t *pair)
{
    const softmax_tile_t *st = user;
    const pattn_problem_t *p = st->c->p;
    ref_work_t *w = st->w;
    int64_t D = p->D, nk = p->sm_nk, g = st->h / p->r;
    ref_load_rows(p->dtype, st->c->qkv[pair->k.member], p->qkv_cols,
                  ref_tile_qkv_row(p, &pair->k), pair->k.len, (p->Hq + g) * D, D, w->k);
    ref_scores(st->c, w, pair);
    int dropout = p->p_dropout > 0;
    if (dropout)
        ref_dropout_bytes(st->c, w, pair, st->h);
    for (int64_t i = 0; i < pair->q.len; ++i) {
        const float *s = w->s + i * REF_BC;
        const uint8_t *keep = w->keep + i * REF_BC;
        float lse = w->lse[i], *out = st->rows + i * nk + pair->k.pos;
        for (int64_t j = 0; j < pair->k.len; ++j) {
            if (s[j] == -INFINITY || lse == -INFINITY)
                continue; /* masked: stays +0 */
            float v = ref_exp(s[j] - lse);
            out[j] = dropout && keep[j] > p->keep_threshold ? -v : v;
        }
    }
}

static void softmax_task(const ref_ctx_t *c, ref_work_t *w, int64_t task, void *user)
{
    const softmax_pass_t *sp = user;
    const pattn_problem_t *p = c->p;
    const ref_tile_t *q = &sp->tiles[task / p->Hq];
    int64_t h = task % p->Hq, D = p->D;
    int k = q->member;
    ref_load_rows(p->dtype, c->qkv[k], p->qkv_cols, ref_tile_qkv_row(p, q), q->len, h * D, D,
                  w->q);
    for (int64_t i = 0; i < q->len; ++i)
        w->lse[i] = sp->io->lse[k][pattn_lse_index(p, k, q->unit, h, q->row + i)];
    int64_t x0 = q->row - (p->packing ? p->cu_q[k][q->unit] : 0); /* local row in the unit */
    float *rows = sp->io->softmax[k] + ((q->unit * p->Hq + h) * pattn_member_lq(p, k) + x0) * p->sm_nk;
    softmax_tile_t st = {c, w, h, rows};
    for (int t = 0; t < p->n; ++t)
        ref_for_each_key_tile(c, q, t, softmax_pair, &st);
}

pattnResult_t ref_softmax_matrix(const ref_ctx_t *c, const pattn_fwd_io_t *io)
{
    const pattn_problem_t *p = c->p;
    for (int k = 0; k < p->n; ++k) {
        size_t elems = (size_t)pattn_softmax_elems(p, k);
        if (elems > 0)
            memset(io->softmax[k], 0, elems * sizeof(float));
    }
    softmax_pass_t sp = {io, NULL};
    int64_t count;
    pattnResult_t r = ref_make_tiles(c, PATTN_QUERY_MAJOR, &sp.tiles, &count);
    if (r == pattnSuccess)
        r = ref_parallel_tasks(c, count * p->Hq, softmax_task, &sp);
    free(sp.tiles);
    return r;
}
