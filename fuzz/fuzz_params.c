/*
 * fuzz_params.c: libFuzzer target for the public API's validation and the reference behind it.
 * The input's bytes choose every pattnParams_t field (mostly near-valid values, sometimes raw
 * or extreme ones), the cu_seqlens tables, NULL pointers and the entry point. Arrays are sized
 * exactly from the contract (so ASan sees any overrun) and poisoned before the call.
 *   P1: a failed call leaves a message, every output byte and the generator untouched.
 *   P2: a successful one writes every output element, finite from finite inputs, returns
 *       [seed, offset] and advances the generator by units * Hq * 32 exactly when p > 0.
 * Work is capped through params.max_flops, so a valid input never runs long.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "fuzz_util.h"
#include "parallel_attn.h"

#define MAX_PIPES 4
#define MAX_SEQS 4
#define MAX_BYTES (64 << 10) /* per array; larger valid calls are only validated */

typedef struct bytes {
    const unsigned char *p;
    size_t left;
} bytes_t;

static unsigned next(bytes_t *b)
{
    if (!b->left)
        return 0;
    --b->left;
    return *b->p++;
}

static int64_t raw64(bytes_t *b)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i)
        v = v << 8 | next(b);
    return (int64_t)v;
}

/* One of the listed values, or (index past them) 8 raw bytes. */
static int64_t pick(bytes_t *b, const int64_t *values, int n)
{
    int i = (int)(next(b) % (unsigned)(n + 1));
    return i < n ? values[i] : raw64(b);
}

static double pick_double(bytes_t *b, const double *values, int n)
{
    return values[next(b) % (unsigned)n];
}

enum entry { FORWARD, BACKWARD, FORWARD_EMULATED, BACKWARD_EMULATED, NUM_ENTRIES };

typedef struct call {
    pattnParams_t p;
    int64_t seq_lens[2 * MAX_PIPES], cp_groups[2 * MAX_PIPES];
    int32_t cu_q[MAX_PIPES * (MAX_SEQS + 1)], cu_k[MAX_PIPES * (MAX_SEQS + 1)];
    enum entry entry;
    int with_gen;
    pattnGenerator_t gens[MAX_PIPES];
} call_t;

/* Cumulative lengths of P pieces summing to total (or raw values when the input says so). */
static void cumulative(bytes_t *b, int32_t *cu, int P, int64_t total)
{
    int raw = next(b) % 16 == 0;
    cu[0] = 0;
    for (int s = 1; s <= P; ++s)
        cu[s] = raw ? (int32_t)raw64(b) : s == P ? (int32_t)total
                                                 : cu[s - 1] + (int32_t)(next(b) % 4);
    if (!raw && total >= 0 && total <= INT32_MAX && cu[P - 1] > total)
        for (int s = 1; s < P; ++s)
            cu[s] = (int32_t)(total * s / P);
}

static void decode(bytes_t *b, call_t *c)
{
    static const int64_t HEAD_DIMS[] = {8, 16, 32, 8, 0, -8, 12, 264};
    static const int64_t RATIOS[] = {1, 2, 3, 1, 0, -1, INT64_MAX};
    static const int64_t LENS[] = {1, 2, 3, 5, 8, 0, 17};
    static const double DROPOUTS[] = {0, 0, 0.3, -0.1, 1.0, NAN};
    static const double SCALES[] = {-1, -1, 0.5, 1e300, NAN, 0};
    static const double MAX_FLOPS[] = {1e7, 1e7, 1e7, 1e3, -1, NAN};
    pattnParams_t p = PATTN_PARAMS_INIT;
    p.dtype = (pattnDtype_t)(next(b) % 4);
    p.head_dim = pick(b, HEAD_DIMS, 8);
    p.group_query_ratio = pick(b, RATIOS, 7);
    int64_t hkv = 1 + next(b) % 2;
    /* wrapping arithmetic: the extreme ratios must reach the library, not trip the harness */
    uint64_t cols = ((uint64_t)p.group_query_ratio + 2) * (uint64_t)hkv * (uint64_t)p.head_dim;
    p.cols = next(b) % 8 ? (int64_t)cols : raw64(b);
    p.num_strategies = 1 + (int)(next(b) % 2);
    p.num_pipelines = 1 + (int)(next(b) % MAX_PIPES);
    for (int i = 0; i < p.num_strategies * p.num_pipelines; ++i) {
        c->seq_lens[i] = pick(b, LENS, 7);
        c->cp_groups[i] = next(b) % 3;
    }
    p.seq_lens = c->seq_lens;
    p.cp_groups = c->cp_groups;
    p.strategy = (int)(next(b) % 3);
    p.strategy -= next(b) % 16 == 0; /* sometimes -1 */
    p.pipeline = (int)(next(b) % (MAX_PIPES + 1));
    p.split = (pattnSplit_t)(next(b) % 3);
    p.packing = next(b) % 2;
    int me = p.strategy >= 0 && p.strategy < p.num_strategies && p.pipeline < p.num_pipelines;
    int64_t my_len = me ? c->seq_lens[p.strategy * p.num_pipelines + p.pipeline] : 1;
    p.rows = next(b) % 8 ? (int64_t)((uint64_t)my_len * (1 + next(b) % 2)) : raw64(b);
    if (p.packing) {
        p.rows = next(b) % 8 ? my_len : p.rows;
        p.num_seqs = next(b) % 8 ? 1 + (int)(next(b) % MAX_SEQS) : (int)raw64(b);
        int P = p.num_seqs >= 1 && p.num_seqs <= MAX_SEQS ? p.num_seqs : 1;
        for (int k = 0; k < MAX_PIPES; ++k) {
            int64_t len = me ? c->seq_lens[p.strategy * p.num_pipelines + k % p.num_pipelines]
                             : 1;
            cumulative(b, c->cu_q + k * (P + 1), P, len);
            if (next(b) % 2)
                memcpy(c->cu_k + k * (P + 1), c->cu_q + k * (P + 1), (P + 1) * sizeof(int32_t));
            else
                cumulative(b, c->cu_k + k * (P + 1), P, len);
        }
        p.cu_seqlens_q = next(b) % 16 ? c->cu_q : NULL;
        p.cu_seqlens_k = next(b) % 16 ? c->cu_k : NULL;
        p.max_seqlen_q = next(b) % 8 ? 64 : (int64_t)(next(b) % 4);
        p.max_seqlen_k = next(b) % 8 ? 256 : (int64_t)(next(b) % 4);
        if (p.num_seqs > MAX_SEQS) /* the tables hold MAX_SEQS: never let the library read past */
            p.num_seqs = MAX_SEQS;
    }
    p.p_dropout = pick_double(b, DROPOUTS, 6);
    p.softmax_scale = pick_double(b, SCALES, 6);
    p.is_causal = (int)(next(b) % 3) == 2 ? 2 : (int)(next(b) % 2);
    p.return_softmax = next(b) % 2;
    p.deterministic = next(b) % 2;
    p.max_flops = pick_double(b, MAX_FLOPS, 6);
    c->p = p;
    c->entry = (enum entry)(next(b) % NUM_ENTRIES);
    c->with_gen = next(b) % 8 != 0;
    for (int k = 0; k < MAX_PIPES; ++k)
        c->gens[k] = (pattnGenerator_t){0x5eed, 64};
}

/* A member's arrays, each malloc'd to its exact size. */
typedef struct arrays {
    int n;
    void *qkv[PATTN_MAX_RING], *dout[PATTN_MAX_RING], *out[PATTN_MAX_RING],
        *dqkv[PATTN_MAX_RING];
    float *lse[PATTN_MAX_RING], *softmax[PATTN_MAX_RING];
    size_t out_bytes[PATTN_MAX_RING], lse_bytes[PATTN_MAX_RING], sm_bytes[PATTN_MAX_RING],
        dqkv_bytes[PATTN_MAX_RING];
    int64_t rng[2 * PATTN_MAX_RING];
} arrays_t;

/* Member k's rows and longest query piece, from the SPEC's shapes. */
static void member_shape(const call_t *c, const pattnShapes_t *s, int k, int64_t *rows,
                         int64_t *lq)
{
    const pattnParams_t *p = &c->p;
    int q = s->ring_pipelines[k];
    int64_t len = p->seq_lens[p->strategy * p->num_pipelines + q];
    *rows = p->packing ? len : s->batch * len;
    *lq = len;
    if (p->packing) {
        *lq = 0;
        const int32_t *cu = p->cu_seqlens_q + (s->ring_size > 1 ? k * (p->num_seqs + 1) : 0);
        for (int u = 0; u < p->num_seqs; ++u)
            *lq = cu[u + 1] - cu[u] > *lq ? cu[u + 1] - cu[u] : *lq;
    }
}

/* The call in one line, for a property's failure message. */
static const char *describe(const call_t *c, const pattnShapes_t *s)
{
    static char text[512];
    const pattnParams_t *p = &c->p;
    snprintf(text, sizeof text,
             "entry %d, %s D %lld r %lld cols %lld rows %lld, ring %d of %d (strategy %d "
             "pipeline %d), packing %d num_seqs %d, causal %d, p %g, scale %g, softmax %d",
             (int)c->entry, pattnDtypeName(p->dtype), (long long)p->head_dim,
             (long long)p->group_query_ratio, (long long)p->cols, (long long)p->rows,
             s->ring_index, s->ring_size, p->strategy, p->pipeline, p->packing, p->num_seqs,
             p->is_causal, p->p_dropout, p->softmax_scale, p->return_softmax);
    for (int k = 0; p->packing && k < s->ring_size && k < MAX_PIPES; ++k) {
        size_t used = strlen(text);
        snprintf(text + used, sizeof text - used, "; cu_q/k[%d] =", k);
        for (int u = 0; u <= p->num_seqs; ++u) {
            used = strlen(text);
            int at = (s->ring_size > 1 ? k * (p->num_seqs + 1) : 0) + u;
            snprintf(text + used, sizeof text - used, " %d/%d", (int)p->cu_seqlens_q[at],
                     (int)p->cu_seqlens_k[at]);
        }
    }
    return text;
}

static void *filled(size_t bytes, int value)
{
    void *a = malloc(bytes ? bytes : 1);
    FUZZ_CHECK(a != NULL, "out of memory");
    memset(a, value, bytes);
    return a;
}

/* Allocates the arrays of the call's members; 0 when they would be too large. */
static int allocate(const call_t *c, const pattnShapes_t *s, arrays_t *a)
{
    const pattnParams_t *p = &c->p;
    int emulated = c->entry == FORWARD_EMULATED || c->entry == BACKWARD_EMULATED;
    int backward = c->entry == BACKWARD || c->entry == BACKWARD_EMULATED;
    a->n = emulated ? s->ring_size : 1;
    size_t es = pattn_dtype_size(p->dtype);
    for (int i = 0; i < a->n; ++i) {
        int k = emulated ? i : s->ring_index;
        int64_t rows, lq;
        member_shape(c, s, k, &rows, &lq);
        size_t qkv_bytes = (size_t)(rows * p->cols) * es;
        a->out_bytes[i] = (size_t)(rows * s->out_cols) * es;
        a->lse_bytes[i] = (size_t)(rows * s->num_q_heads) * 4;
        a->sm_bytes[i] = p->return_softmax ? (size_t)(s->softmax_dims[0] * s->num_q_heads * lq *
                                                      s->softmax_dims[3]) * 4
                                           : 0;
        a->dqkv_bytes[i] = qkv_bytes;
        if (qkv_bytes > MAX_BYTES || a->sm_bytes[i] > MAX_BYTES)
            return 0;
        a->qkv[i] = filled(qkv_bytes, 0);
        a->dout[i] = filled(a->out_bytes[i], 0);
        for (size_t x = 0; x < qkv_bytes / es; ++x) /* small values, exact in every dtype */
            pattn_store(p->dtype, a->qkv[i], (int64_t)x, (float)((int)(x * 7 % 13) - 6) / 8.0f);
        for (size_t x = 0; x < a->out_bytes[i] / es; ++x)
            pattn_store(p->dtype, a->dout[i], (int64_t)x, (float)((int)(x * 5 % 11) - 5) / 8.0f);
        a->out[i] = filled(a->out_bytes[i], 0xff);
        a->lse[i] = filled(a->lse_bytes[i], backward ? 0 : 0xff); /* a backward's input */
        a->softmax[i] = filled(a->sm_bytes[i], 0xff);
        a->dqkv[i] = filled(a->dqkv_bytes[i], 0xff);
    }
    memset(a->rng, 0xff, sizeof a->rng);
    return 1;
}

static void release(arrays_t *a)
{
    for (int i = 0; i < a->n; ++i) {
        free(a->qkv[i]);
        free(a->dout[i]);
        free(a->out[i]);
        free(a->lse[i]);
        free(a->softmax[i]);
        free(a->dqkv[i]);
    }
}

static pattnResult_t call_entry(call_t *c, arrays_t *a)
{
    pattnGenerator_t *g = c->with_gen ? c->gens : NULL;
    int64_t state[2 * PATTN_MAX_RING];
    for (int i = 0; i < 2 * a->n; ++i)
        state[i] = i % 2 ? 64 : 0x5eed;
    switch (c->entry) {
    case FORWARD:
        return pattnForward(NULL, &c->p, g, a->qkv[0], a->out[0], a->lse[0], a->rng,
                            a->softmax[0]);
    case BACKWARD:
        return pattnBackward(NULL, &c->p, a->qkv[0], a->dout[0], a->lse[0], state, a->dout[0],
                             a->dqkv[0]);
    case FORWARD_EMULATED:
        return pattnForwardEmulated(&c->p, g, (const void *const *)a->qkv, a->out, a->lse, a->rng,
                                    a->softmax, NULL);
    default:
        return pattnBackwardEmulated(&c->p, (const void *const *)a->qkv,
                                     (const void *const *)a->dout, (const float *const *)a->lse,
                                     state, (const void *const *)a->dout, a->dqkv);
    }
}

static int all_bytes(const void *p, size_t n, int value)
{
    for (size_t i = 0; i < n; ++i)
        if (((const unsigned char *)p)[i] != value)
            return 0;
    return 1;
}

/* Every element of a dtype array written and finite. */
static int all_finite(pattnDtype_t t, const void *a, size_t bytes)
{
    for (size_t i = 0; i < bytes / pattn_dtype_size(t); ++i)
        if (!isfinite(pattn_load(t, a, (int64_t)i)))
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    bytes_t b = {data, size};
    call_t c;
    memset(&c, 0, sizeof c);
    decode(&b, &c);
    pattnShapes_t s;
    if (pattnQueryShapes(&c.p, &s) != pattnSuccess) {
        FUZZ_CHECK(pattnGetLastError()[0] != '\0', "a rejection without a message");
        return 0;
    }
    arrays_t a = {0};
    if (!allocate(&c, &s, &a)) {
        release(&a);
        return 0;
    }
    pattnGenerator_t before = c.gens[0];
    pattnResult_t r = call_entry(&c, &a);
    int backward = c.entry == BACKWARD || c.entry == BACKWARD_EMULATED;
    for (int i = 0; i < a.n; ++i) {
        size_t ob = a.out_bytes[i], lb = a.lse_bytes[i], db = a.dqkv_bytes[i];
        if (r != pattnSuccess) {
            FUZZ_CHECK(pattnGetLastError()[0] != '\0', "a failure without a message");
            FUZZ_CHECK(all_bytes(a.out[i], ob, 0xff) &&
                           all_bytes(a.lse[i], lb, backward ? 0 : 0xff) &&
                           all_bytes(a.dqkv[i], db, 0xff) && all_bytes(a.rng, sizeof a.rng, 0xff),
                       "a failed call (%s) wrote an output: %s", pattnGetLastError(),
                       describe(&c, &s));
            FUZZ_CHECK(c.gens[i].offset == before.offset, "a failed call moved the generator");
        } else if (backward) {
            FUZZ_CHECK(all_finite(c.p.dtype, a.dqkv[i], db),
                       "dqkv of member %d not all written: %s", i, describe(&c, &s));
        } else {
            FUZZ_CHECK(all_finite(c.p.dtype, a.out[i], ob),
                       "out of member %d not all written or not finite: %s", i, describe(&c, &s));
            for (size_t x = 0; x < lb / 4; ++x) /* -inf for a row without keys, never NaN */
                FUZZ_CHECK(!isnan(a.lse[i][x]) && a.lse[i][x] != INFINITY, "lse[%d][%zu] = %g",
                           i, x, a.lse[i][x]);
            uint64_t step = c.p.p_dropout > 0
                                ? (uint64_t)(s.softmax_dims[0] * s.num_q_heads * 32) : 0;
            FUZZ_CHECK(!c.with_gen || (a.rng[2 * i] == 0x5eed && a.rng[2 * i + 1] == 64 &&
                                       c.gens[i].offset == 64 + step),
                       "rng_state [%lld, %lld], generator offset %llu (advance %llu)",
                       (long long)a.rng[2 * i], (long long)a.rng[2 * i + 1],
                       (unsigned long long)c.gens[i].offset, (unsigned long long)step);
        }
    }
    release(&a);
    return 0;
}
