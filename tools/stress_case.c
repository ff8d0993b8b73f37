/*
 * stress_case.c: drawing pattn-stress configurations, running them through the public API and
 * comparing two runs bit for bit (stress_case.h).
 */
#include "stress_case.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "splitmix.h"

uint64_t stress_next(uint64_t *state) { return pattn_splitmix64(state); }

int64_t stress_int(uint64_t *state, int64_t lo, int64_t hi)
{
    return lo + (int64_t)(stress_next(state) % (uint64_t)(hi - lo + 1));
}

/* A length in [lo, hi] that is often an edge: lo, 1, a tile boundary or just past one. */
static int64_t edgy_length(uint64_t *rng, int64_t lo, int64_t hi)
{
    static const int64_t EDGES[] = {1, 2, 127, 128, 129, 255, 256, 257};
    int64_t pick = stress_int(rng, 0, 9);
    if (pick < 8 && EDGES[pick] >= lo && EDGES[pick] <= hi)
        return EDGES[pick];
    return stress_int(rng, lo, hi);
}

/* Cumulative lengths of P pieces summing to total, some of them empty. */
static void draw_cumulative(uint64_t *rng, int P, int64_t total, int32_t *cu)
{
    cu[0] = 0;
    for (int s = 1; s < P; ++s)
        cu[s] = (int32_t)stress_int(rng, 0, total);
    cu[P] = (int32_t)total;
    for (int s = 1; s < P; ++s) /* sort the cut points */
        for (int t = s + 1; t < P; ++t)
            if (cu[t] < cu[s]) {
                int32_t x = cu[s];
                cu[s] = cu[t];
                cu[t] = x;
            }
}

static void *random_array(uint64_t *rng, pattnDtype_t dtype, int64_t count, double amplitude)
{
    void *a = malloc((size_t)(count ? count : 1) * pattn_dtype_size(dtype));
    for (int64_t i = 0; a && i < count; ++i) {
        double u = (double)(stress_next(rng) >> 11) / 9007199254740992.0;
        pattn_store(dtype, a, i, (float)((2.0 * u - 1.0) * amplitude));
    }
    return a;
}

/* Lengths of the ring's members (not packed), keeping the ring's sequence short. */
static void draw_lengths(uint64_t *rng, stress_case_t *c)
{
    int64_t budget = c->n == 1 ? 300 : 330 / c->n;
    c->batch = stress_int(rng, 1, 2);
    for (int k = 0; k < c->n; ++k) {
        c->seq_lens[k] = edgy_length(rng, 1, budget);
        c->rows[k] = c->batch * c->seq_lens[k];
    }
}

/* Packed pieces: member k holds cu[k][s + 1] - cu[k][s] tokens of sequence s. */
static void draw_packing(uint64_t *rng, stress_case_t *c)
{
    int P = c->num_seqs = (int)stress_int(rng, 1, STRESS_MAX_SEQS);
    c->batch = 1;
    for (int k = 0; k < c->n; ++k) {
        int64_t total = stress_int(rng, c->n == 1 ? 1 : 0, c->n == 1 ? 300 : 140);
        draw_cumulative(rng, P, total, c->cu_q + k * (P + 1));
        c->seq_lens[k] = c->rows[k] = total;
    }
    memcpy(c->cu_k, c->cu_q, sizeof c->cu_q);
    if (c->n == 1 && stress_int(rng, 0, 1)) /* a single rank may attend other key pieces */
        draw_cumulative(rng, P, c->rows[0], c->cu_k);
}

/* The longest query piece of member 0 and the longest key sequence over the ring. */
static void max_seqlens(const stress_case_t *c, int64_t *max_q, int64_t *max_k)
{
    int P = c->num_seqs;
    *max_q = *max_k = 0;
    for (int s = 0; s < P; ++s) {
        int64_t nk = 0;
        for (int k = 0; k < c->n; ++k) {
            const int32_t *q = c->cu_q + k * (P + 1), *kv = c->cu_k + k * (P + 1);
            if (k == 0 && q[s + 1] - q[s] > *max_q)
                *max_q = q[s + 1] - q[s];
            nk += kv[s + 1] - kv[s];
        }
        *max_k = nk > *max_k ? nk : *max_k;
    }
}

int stress_case_make(uint64_t *rng, stress_case_t *c)
{
    static const int64_t HEAD_DIMS[] = {8, 16, 32, 64, 64, 128};
    static const double DROPOUTS[] = {0.0, 0.0, 0.17};
    memset(c, 0, sizeof *c);
    pattnParams_t *p = &c->params;
    *p = (pattnParams_t)PATTN_PARAMS_INIT;
    p->dtype = (pattnDtype_t)stress_int(rng, 0, 2);
    p->head_dim = HEAD_DIMS[stress_int(rng, 0, 5)];
    p->group_query_ratio = stress_int(rng, 1, 3);
    c->Hkv = stress_int(rng, 1, 2);
    c->Hq = c->Hkv * p->group_query_ratio;
    c->out_cols = c->Hq * p->head_dim;
    p->cols = (c->Hq + 2 * c->Hkv) * p->head_dim;
    c->n = (int)stress_int(rng, 1, STRESS_MAX_MEMBERS + 1);
    c->n = c->n > STRESS_MAX_MEMBERS ? 1 : c->n;
    p->packing = (int)stress_int(rng, 0, 1);
    if (p->packing)
        draw_packing(rng, c);
    else
        draw_lengths(rng, c);
    p->num_strategies = 1;
    p->num_pipelines = c->n;
    p->seq_lens = c->seq_lens;
    p->cp_groups = c->cp_groups;
    p->rows = c->rows[0];
    p->split = c->n > 1 ? (pattnSplit_t)stress_int(rng, 0, 1) : PATTN_SPLIT_CONTIGUOUS;
    if (p->packing) {
        p->num_seqs = c->num_seqs;
        p->cu_seqlens_q = c->cu_q;
        p->cu_seqlens_k = c->cu_k;
        max_seqlens(c, &p->max_seqlen_q, &p->max_seqlen_k);
    }
    p->is_causal = (int)stress_int(rng, 0, 1);
    p->p_dropout = DROPOUTS[stress_int(rng, 0, 2)];
    p->softmax_scale = stress_int(rng, 0, 1) ? -1.0 : 0.05 * (double)stress_int(rng, 1, 10);
    c->backward = stress_int(rng, 0, 3) != 0;
    c->gen = (pattnGenerator_t){stress_next(rng), stress_next(rng) >> 8};
    for (int k = 0; k < c->n; ++k) {
        c->qkv[k] = random_array(rng, p->dtype, c->rows[k] * p->cols, 2.0);
        c->dout[k] = random_array(rng, p->dtype, c->rows[k] * c->out_cols, 1.0);
        if (!c->qkv[k] || !c->dout[k])
            return -1;
    }
    snprintf(c->summary, sizeof c->summary,
             "%s D%lld Hq%lld/Hkv%lld %s%s ring %d%s lens %lld,%lld,%lld x%lld%s p%.2f%s",
             pattnDtypeName(p->dtype), (long long)p->head_dim, (long long)c->Hq,
             (long long)c->Hkv, p->is_causal ? "causal" : "full",
             p->packing ? " packed" : "", c->n,
             c->n > 1 ? (p->split == PATTN_SPLIT_SYM ? " sym" : " contiguous") : "",
             (long long)c->seq_lens[0], (long long)c->seq_lens[1], (long long)c->seq_lens[2],
             (long long)c->batch,
             p->packing && memcmp(c->cu_q, c->cu_k, sizeof c->cu_q) ? " cu_k!=cu_q" : "",
             p->p_dropout, c->backward ? " +bwd" : "");
    return 0;
}

void stress_case_free(stress_case_t *c)
{
    for (int k = 0; k < STRESS_MAX_MEMBERS; ++k) {
        free(c->qkv[k]);
        free(c->dout[k]);
        c->qkv[k] = c->dout[k] = NULL;
    }
}

int stress_result_alloc(const stress_case_t *c, stress_result_t *r)
{
    memset(r, 0, sizeof *r);
    size_t es = pattn_dtype_size(c->params.dtype);
    for (int k = 0; k < c->n; ++k) {
        r->out_bytes[k] = (size_t)(c->rows[k] * c->out_cols) * es;
        r->lse_count[k] = (size_t)(c->rows[k] * c->Hq);
        r->dqkv_bytes[k] = c->backward ? (size_t)(c->rows[k] * c->params.cols) * es : 0;
        r->out[k] = malloc(r->out_bytes[k] + 1);
        r->lse[k] = malloc(r->lse_count[k] * sizeof(float) + 1);
        r->dqkv[k] = malloc(r->dqkv_bytes[k] + 1);
        if (!r->out[k] || !r->lse[k] || !r->dqkv[k])
            return -1;
        memset(r->out[k], 0xff, r->out_bytes[k]);
        memset(r->lse[k], 0xff, r->lse_count[k] * sizeof(float));
        memset(r->dqkv[k], 0xff, r->dqkv_bytes[k]);
    }
    return 0;
}

void stress_result_free(stress_result_t *r)
{
    for (int k = 0; k < STRESS_MAX_MEMBERS; ++k) {
        free(r->out[k]);
        free(r->lse[k]);
        free(r->dqkv[k]);
        r->out[k] = r->lse[k] = r->dqkv[k] = NULL;
    }
}

static pattnResult_t run_forward(const stress_case_t *c, stress_result_t *r)
{
    pattnGenerator_t gens[STRESS_MAX_MEMBERS];
    for (int k = 0; k < c->n; ++k)
        gens[k] = c->gen;
    if (c->n == 1)
        return pattnForward(NULL, &c->params, &gens[0], c->qkv[0], r->out[0], r->lse[0],
                            r->rng_state, NULL);
    return pattnForwardEmulated(&c->params, gens, (const void *const *)c->qkv, r->out, r->lse,
                                r->rng_state, NULL, NULL);
}

static pattnResult_t run_backward(const stress_case_t *c, stress_result_t *r)
{
    if (c->n == 1)
        return pattnBackward(NULL, &c->params, c->qkv[0], r->out[0], r->lse[0], r->rng_state,
                             c->dout[0], r->dqkv[0]);
    return pattnBackwardEmulated(&c->params, (const void *const *)c->qkv,
                                 (const void *const *)r->out, (const float *const *)r->lse,
                                 r->rng_state, (const void *const *)c->dout, r->dqkv);
}

void stress_case_run(const stress_case_t *c, stress_result_t *r)
{
    r->status = run_forward(c, r);
    if (r->status == pattnSuccess && c->backward)
        r->status = run_backward(c, r);
    if (r->status != pattnSuccess)
        snprintf(r->message, sizeof r->message, "%s: %s", pattnGetErrorString(r->status),
                 pattnGetLastError());
}

int stress_results_equal(const stress_case_t *c, const stress_result_t *a,
                         const stress_result_t *b)
{
    if (a->status != b->status)
        return 0;
    for (int k = 0; k < c->n; ++k)
        if (memcmp(a->out[k], b->out[k], a->out_bytes[k]) ||
            memcmp(a->lse[k], b->lse[k], a->lse_count[k] * sizeof(float)) ||
            memcmp(a->dqkv[k], b->dqkv[k], a->dqkv_bytes[k]) ||
            memcmp(a->rng_state + 2 * k, b->rng_state + 2 * k, 2 * sizeof(int64_t)))
            return 0;
    return 1;
}
