/*
 * test_api_properties.c: properties of the operator through the public API, on the reference.
 *
 * The central one (SPEC section 3): an emulated ring gives every member exactly the rows that a
 * single rank computes on the reassembled global sequence. The test lays the global sequence out
 * itself from the SPEC's split formulas (api_split_position), never from core/plan.c, for random
 * shapes (B 1..2, Hkv 1..2, r 1..3, D 8..64, uneven local lengths 1..40 or packed pieces 0..20),
 * rings of 1..8 members among other pipelines and strategies, both splits, causal and full,
 * dropout 0 and 0.3, fp32 / bf16 / fp16. Also: the generator contract, return_softmax,
 * switching strategies, the backward against the single rank, determinism across runs and thread
 * counts, and the gradient against finite differences.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "parallel_attn.h"
#include "test_api_util.h"

#define MAX_N 8
#define MAX_UNITS 3
#define MAX_PIPES (MAX_N + 2)
#define MAX_LOCAL 40 /* local length of a sample */
#define MAX_PIECE 20 /* local piece of a packed sequence */

/* ---------------------------------------------------------------- a random ring problem */
typedef struct ring_case {
    pattnDtype_t dtype;
    int64_t B, Hkv, r, Hq, D, cols, out_cols;
    int n, me, packing, units, causal, return_softmax;
    pattnSplit_t split;
    double p_dropout, softmax_scale;
    int64_t len[MAX_N][MAX_UNITS]; /* member k's piece of unit u (not packed: L_k, units = 1) */
    int64_t rows[MAX_N];           /* member k's qkv rows */
    int64_t lq_max[MAX_N];         /* member k's longest piece */
    int64_t unit_len[MAX_UNITS];   /* global length N_u */
    int64_t nk_max;                /* longest global unit */
    int32_t cu[MAX_N * (MAX_UNITS + 1)];
    int64_t seq_lens[2 * MAX_PIPES], cp_groups[2 * MAX_PIPES];
    pattnParams_t params; /* the ring, seen from member `me` */

    /* The same problem on one rank: the reassembled global sequence. */
    int64_t global_rows;
    int64_t global_seq_len[1], global_group[1];
    int32_t global_cu[MAX_UNITS + 1];
    pattnParams_t global_params;
} ring_case_t;

static void base_params(const ring_case_t *c, pattnParams_t *p)
{
    pattnParams_t init = PATTN_PARAMS_INIT;
    *p = init;
    p->dtype = c->dtype;
    p->head_dim = c->D;
    p->group_query_ratio = c->r;
    p->cols = c->cols;
    p->split = c->split;
    p->packing = c->packing;
    p->p_dropout = c->p_dropout;
    p->softmax_scale = c->softmax_scale;
    p->is_causal = c->causal;
    p->return_softmax = c->return_softmax;
}

/* Places the ring's n members among other pipelines (other groups) under one of two strategies
 * and fills the ring's params, then the single-rank params of the reassembled problem. */
static void finish_case(uint64_t *rng, ring_case_t *c)
{
    c->Hq = c->r * c->Hkv;
    c->cols = (c->Hq + 2 * c->Hkv) * c->D;
    c->out_cols = c->Hq * c->D;
    c->nk_max = 0;
    for (int u = 0; u < c->units; ++u) {
        c->unit_len[u] = 0;
        for (int k = 0; k < c->n; ++k)
            c->unit_len[u] += c->len[k][u];
        if (c->unit_len[u] > c->nk_max)
            c->nk_max = c->unit_len[u];
    }
    for (int k = 0; k < c->n; ++k) {
        int64_t tokens = 0;
        c->lq_max[k] = 0;
        c->cu[k * (c->units + 1)] = 0;
        for (int u = 0; u < c->units; ++u) {
            tokens += c->len[k][u];
            c->cu[k * (c->units + 1) + u + 1] = (int32_t)tokens;
            if (c->len[k][u] > c->lq_max[k])
                c->lq_max[k] = c->len[k][u];
        }
        c->rows[k] = c->packing ? tokens : c->B * tokens;
    }

    /* Pipelines: the ring's members in increasing order among up to two others. */
    int pipes = c->n + (int)api_rng_int(rng, 0, 2), strategies = (int)api_rng_int(rng, 1, 2);
    int strategy = (int)api_rng_int(rng, 0, strategies - 1), member_pipe[MAX_N];
    int is_member[MAX_PIPES] = {0}, placed = 0;
    while (placed < c->n) {
        int q = (int)api_rng_int(rng, 0, pipes - 1);
        if (!is_member[q])
            is_member[q] = 1, ++placed;
    }
    for (int q = 0, k = 0; q < pipes; ++q)
        if (is_member[q])
            member_pipe[k++] = q;
    for (int s = 0; s < strategies; ++s)
        for (int q = 0; q < pipes; ++q) { /* the other strategy: anything valid */
            c->seq_lens[s * pipes + q] = api_rng_int(rng, 1, 50);
            c->cp_groups[s * pipes + q] = api_rng_int(rng, 0, 3);
        }
    for (int q = 0; q < pipes; ++q)
        if (!is_member[q])
            c->cp_groups[strategy * pipes + q] = 100 + q;
    for (int k = 0; k < c->n; ++k) {
        c->seq_lens[strategy * pipes + member_pipe[k]] = c->packing ? c->rows[k] : c->len[k][0];
        c->cp_groups[strategy * pipes + member_pipe[k]] = 42;
    }
    c->me = (int)api_rng_int(rng, 0, c->n - 1);

    pattnParams_t *p = &c->params;
    base_params(c, p);
    p->num_strategies = strategies;
    p->num_pipelines = pipes;
    p->seq_lens = c->seq_lens;
    p->cp_groups = c->cp_groups;
    p->strategy = strategy;
    p->pipeline = member_pipe[c->me];
    p->rows = c->rows[c->me];
    if (c->packing) {
        p->num_seqs = c->units;
        p->cu_seqlens_q = p->cu_seqlens_k = c->cu;
        p->max_seqlen_q = c->lq_max[c->me]; /* exactly the bound: "at least" must accept it */
        p->max_seqlen_k = c->nk_max;
    }

    pattnParams_t *g = &c->global_params;
    base_params(c, g);
    g->num_strategies = 1;
    g->num_pipelines = 1;
    c->global_group[0] = 0;
    g->cp_groups = c->global_group;
    g->seq_lens = c->global_seq_len;
    if (c->packing) {
        c->global_cu[0] = 0;
        for (int u = 0; u < c->units; ++u)
            c->global_cu[u + 1] = c->global_cu[u] + (int32_t)c->unit_len[u];
        c->global_rows = c->global_cu[c->units];
        g->num_seqs = c->units;
        g->cu_seqlens_q = g->cu_seqlens_k = c->global_cu;
        g->max_seqlen_q = g->max_seqlen_k = c->nk_max;
    } else {
        c->global_rows = c->B * c->unit_len[0];
    }
    c->global_seq_len[0] = c->packing ? c->global_rows : c->unit_len[0];
    g->rows = c->global_rows;
}

static void random_case(uint64_t *rng, ring_case_t *c, pattnDtype_t dtype)
{
    memset(c, 0, sizeof *c);
    static const int64_t dims[4] = {8, 16, 32, 64};
    c->dtype = dtype;
    c->n = (int)api_rng_int(rng, 1, MAX_N);
    c->packing = (int)api_rng_int(rng, 0, 1);
    c->B = c->packing ? 1 : api_rng_int(rng, 1, 2);
    c->Hkv = api_rng_int(rng, 1, 2);
    c->r = api_rng_int(rng, 1, 3);
    c->D = dims[api_rng_int(rng, 0, 3)];
    c->split = api_rng_int(rng, 0, 1) ? PATTN_SPLIT_SYM : PATTN_SPLIT_CONTIGUOUS;
    c->causal = (int)api_rng_int(rng, 0, 1);
    c->p_dropout = api_rng_int(rng, 0, 1) ? 0.3 : 0.0;
    c->return_softmax = (int)api_rng_int(rng, 0, 1);
    c->softmax_scale = api_rng_int(rng, 0, 1) ? -1.0 : harness_uniform(rng, 0.05, 0.5);
    c->units = c->packing ? (int)api_rng_int(rng, 1, MAX_UNITS) : 1;
    int64_t total = 0;
    for (int k = 0; k < c->n; ++k)
        for (int u = 0; u < c->units; ++u) {
            c->len[k][u] = c->packing ? api_edge_biased_length(rng, 0, MAX_PIECE)
                                      : api_edge_biased_length(rng, 1, MAX_LOCAL);
            total += c->len[k][u];
        }
    if (total == 0)
        c->len[api_rng_int(rng, 0, c->n - 1)][api_rng_int(rng, 0, c->units - 1)] = 1;
    finish_case(rng, c);
}

static const char *describe(const ring_case_t *c)
{
    static char text[1024];
    int at = snprintf(text, sizeof text,
                      "%s B=%lld Hkv=%lld r=%lld D=%lld n=%d me=%d %s %s %s p=%g scale=%g "
                      "softmax=%d lens:",
                      pattnDtypeName(c->dtype), (long long)c->B, (long long)c->Hkv,
                      (long long)c->r, (long long)c->D, c->n, c->me,
                      c->split == PATTN_SPLIT_SYM ? "sym" : "contiguous",
                      c->causal ? "causal" : "full", c->packing ? "packed" : "samples",
                      c->p_dropout, c->softmax_scale, c->return_softmax);
    for (int k = 0; k < c->n && at < (int)sizeof text - 64; ++k) {
        at += snprintf(text + at, sizeof text - at, " [");
        for (int u = 0; u < c->units; ++u)
            at += snprintf(text + at, sizeof text - at, u ? ",%lld" : "%lld",
                           (long long)c->len[k][u]);
        at += snprintf(text + at, sizeof text - at, "]");
    }
    snprintf(text + at, sizeof text - at, " (seed %llu)", (unsigned long long)api_seed);
    return text;
}

/* ---------------------------------------------------------------- token bookkeeping */
/* Where local token x of member k's piece of unit u lives, on the member and globally. */
typedef struct token {
    int64_t member_row, global_row, pos;
} token_t;

static int64_t num_units(const ring_case_t *c) { return c->packing ? c->units : c->B; }
/* The piece of `unit` (a sample or a packed sequence) in the len table. */
static int piece_index(const ring_case_t *c, int64_t unit) { return c->packing ? (int)unit : 0; }

/* Unit u is a packed sequence, or a sample (whose pieces are all len[.][0]). */
static token_t locate(const ring_case_t *c, int k, int u, int64_t x)
{
    int64_t lens[MAX_N];
    for (int m = 0; m < c->n; ++m)
        lens[m] = c->len[m][piece_index(c, u)];
    token_t t;
    t.pos = api_split_position(c->split, lens, c->n, k, x);
    if (c->packing) {
        t.member_row = c->cu[k * (c->units + 1) + u] + x;
        t.global_row = c->global_cu[u] + t.pos;
    } else { /* u is the sample */
        t.member_row = u * c->len[k][0] + x;
        t.global_row = u * c->unit_len[0] + t.pos;
    }
    return t;
}

static int64_t member_lse_index(const ring_case_t *c, int k, int64_t unit, int64_t h,
                                const token_t *t)
{
    if (c->packing)
        return h * c->rows[k] + t->member_row;
    return (unit * c->Hq + h) * c->len[k][0] + (t->member_row - unit * c->len[k][0]);
}
static int64_t global_lse_index(const ring_case_t *c, int64_t unit, int64_t h, const token_t *t)
{
    if (c->packing)
        return h * c->global_rows + t->global_row;
    return (unit * c->Hq + h) * c->unit_len[0] + t->pos;
}

/* ---------------------------------------------------------------- arrays of one run */
typedef struct arrays {
    void *qkv[MAX_N], *out[MAX_N], *dout[MAX_N], *dqkv[MAX_N];
    float *lse[MAX_N], *softmax[MAX_N];
    int64_t rng_states[2 * MAX_N];
    pattnGenerator_t gens[MAX_N];
    int count;
} arrays_t;

static size_t dsize(const ring_case_t *c) { return pattn_dtype_size(c->dtype); }

static int64_t softmax_elems(const ring_case_t *c, int64_t lq)
{
    return num_units(c) * c->Hq * lq * c->nk_max;
}

/* Allocates count members' arrays with the given row counts; inputs random, outputs poisoned. */
static void arrays_alloc(arrays_t *a, const ring_case_t *c, int count, const int64_t *rows,
                         const int64_t *lq, uint64_t *rng)
{
    memset(a, 0, sizeof *a);
    a->count = count;
    for (int k = 0; k < count; ++k) {
        size_t in = (size_t)(rows[k] * c->cols), o = (size_t)(rows[k] * c->out_cols);
        a->qkv[k] = api_malloc(in * dsize(c));
        a->dqkv[k] = api_malloc(in * dsize(c));
        a->out[k] = api_malloc(o * dsize(c));
        a->dout[k] = api_malloc(o * dsize(c));
        a->lse[k] = api_malloc((size_t)(rows[k] * c->Hq) * sizeof(float));
        a->softmax[k] = api_malloc((size_t)softmax_elems(c, lq[k]) * sizeof(float));
        api_fill_random(rng, c->dtype, a->qkv[k], (int64_t)in, -1.5, 1.5);
        api_fill_random(rng, c->dtype, a->dout[k], (int64_t)o, -1, 1);
        api_poison(a->dqkv[k], in * dsize(c));
        api_poison(a->out[k], o * dsize(c));
        api_poison(a->lse[k], (size_t)(rows[k] * c->Hq) * sizeof(float));
        api_poison(a->softmax[k], (size_t)softmax_elems(c, lq[k]) * sizeof(float));
    }
    api_poison(a->rng_states, sizeof a->rng_states);
}

static void arrays_free(arrays_t *a)
{
    for (int k = 0; k < a->count; ++k) {
        free(a->qkv[k]);
        free(a->dqkv[k]);
        free(a->out[k]);
        free(a->dout[k]);
        free(a->lse[k]);
        free(a->softmax[k]);
    }
}

static void ring_alloc(arrays_t *a, const ring_case_t *c, uint64_t *rng)
{
    arrays_alloc(a, c, c->n, c->rows, c->lq_max, rng);
}

/* The single-rank arrays, with qkv and dout reassembled from the ring's. */
static void global_alloc(arrays_t *g, const ring_case_t *c, const arrays_t *ring,
                         uint64_t *rng)
{
    int64_t rows[1] = {c->global_rows}, lq[1] = {c->packing ? c->nk_max : c->unit_len[0]};
    arrays_alloc(g, c, 1, rows, lq, rng);
    size_t ds = dsize(c);
    api_poison(g->qkv[0], (size_t)(c->global_rows * c->cols) * ds);
    api_poison(g->dout[0], (size_t)(c->global_rows * c->out_cols) * ds);
    for (int k = 0; k < c->n; ++k)
        for (int64_t unit = 0; unit < num_units(c); ++unit)
            for (int64_t x = 0; x < c->len[k][piece_index(c, unit)]; ++x) {
                token_t t = locate(c, k, (int)unit, x);
                memcpy((char *)g->qkv[0] + (size_t)(t.global_row * c->cols) * ds,
                       (const char *)ring->qkv[k] + (size_t)(t.member_row * c->cols) * ds,
                       (size_t)c->cols * ds);
                memcpy((char *)g->dout[0] + (size_t)(t.global_row * c->out_cols) * ds,
                       (const char *)ring->dout[k] + (size_t)(t.member_row * c->out_cols) * ds,
                       (size_t)c->out_cols * ds);
            }
    cr_assert(api_first_nan(c->dtype, g->qkv[0], c->global_rows * c->cols) < 0,
              "the test's own layout left a global row unfilled in %s", describe(c));
}

/* Copies the ring's forward results (out, lse) into the single-rank layout. */
static void gather_forward(const ring_case_t *c, const arrays_t *ring, arrays_t *g)
{
    size_t ds = dsize(c);
    for (int k = 0; k < c->n; ++k)
        for (int64_t unit = 0; unit < num_units(c); ++unit)
            for (int64_t x = 0; x < c->len[k][piece_index(c, unit)]; ++x) {
                token_t t = locate(c, k, (int)unit, x);
                memcpy((char *)g->out[0] + (size_t)(t.global_row * c->out_cols) * ds,
                       (const char *)ring->out[k] + (size_t)(t.member_row * c->out_cols) * ds,
                       (size_t)c->out_cols * ds);
                for (int64_t h = 0; h < c->Hq; ++h)
                    g->lse[0][global_lse_index(c, unit, h, &t)] =
                        ring->lse[k][member_lse_index(c, k, unit, h, &t)];
            }
}

/* ---------------------------------------------------------------- comparisons */
/* The largest error relative to its tolerance over a tensor, and where it was. */
typedef struct worst {
    double ratio, got, want, tol;
    int member;
    int64_t index;
} worst_t;

static void note(worst_t *w, double got, double want, double tol, int member, int64_t index)
{
    double ratio = got == want ? 0.0 : (isnan(got) || isnan(want)) ? INFINITY
                                                                   : fabs(got - want) / tol;
    if (ratio > w->ratio)
        *w = (worst_t){ratio, got, want, tol, member, index};
}

/* The largest error / tolerance seen per tensor over a test's trials, logged at the end. */
enum { OUT, LSE, SOFTMAX, DQKV, TENSORS };
static const char *const tensor_names[TENSORS] = {"out", "softmax_lse", "softmax", "dqkv"};
static double largest_ratio[TENSORS];

static void log_largest_ratios(void)
{
    for (int t = 0; t < TENSORS; ++t)
        if (largest_ratio[t] > 0)
            cr_log_info("%s: largest error %.3g of its tolerance", tensor_names[t],
                        largest_ratio[t]);
}

#define ASSERT_WITHIN(w, tensor, c)                                                              \
    largest_ratio[tensor] = fmax(largest_ratio[tensor], (w).ratio);                              \
    cr_assert((w).ratio <= 1.0,                                                                  \
              "%s: member %d index %lld is %.9g, single rank %.9g (error %.3g, tolerance %.3g) " \
              "in %s",                                                                           \
              tensor_names[tensor], (w).member, (long long)(w).index, (w).got, (w).want,         \
              fabs((w).got - (w).want), (w).tol, describe(c))

/* Outputs of the forward: fp32 differs only by summation order (2e-5); bf16 / fp16 add one ulp
 * of the dtype, since two fp32 results 1e-6 apart can round to neighbouring values. */
static double out_tolerance(pattnDtype_t t, double ref)
{
    double ulp = t == PATTN_BF16 ? 0x1.0p-7 : t == PATTN_FP16 ? 0x1.0p-10 : 0.0;
    return 2e-5 + ulp * fabs(ref);
}
#define LSE_TOLERANCE 1e-5
#define PROB_TOLERANCE 2e-5 /* fp32 probabilities <= 1 from lse 1e-5 apart */

static void assert_all_written(const ring_case_t *c, const char *what, pattnDtype_t t,
                               const void *buf, int64_t n, int member)
{
    int64_t at = api_first_nan(t, buf, n);
    cr_assert(at < 0, "%s of member %d: element %lld of %lld not written (still NaN) in %s", what,
              member, (long long)at, (long long)n, describe(c));
}

static void compare_softmax(const ring_case_t *c, const arrays_t *ring, const arrays_t *g)
{
    worst_t w = {0};
    int64_t glq = c->packing ? c->nk_max : c->unit_len[0], nk = c->nk_max;
    for (int k = 0; k < c->n; ++k) {
        /* Everything outside the unit's rows and keys is padding: exactly +0. */
        for (int64_t i = 0; i < softmax_elems(c, c->lq_max[k]); ++i) {
            int64_t j = i % nk, x = (i / nk) % c->lq_max[k], unit = i / nk / c->lq_max[k] / c->Hq;
            int piece = piece_index(c, unit);
            if (x >= c->len[k][piece] || j >= c->unit_len[piece]) {
                uint32_t bits;
                memcpy(&bits, &ring->softmax[k][i], 4);
                cr_assert_eq(bits, 0u, "softmax padding of member %d at %lld is %g, not +0 in %s",
                             k, (long long)i, ring->softmax[k][i], describe(c));
            }
        }
        for (int64_t unit = 0; unit < num_units(c); ++unit) {
            int piece = piece_index(c, unit);
            for (int64_t x = 0; x < c->len[k][piece]; ++x) {
                token_t t = locate(c, k, (int)unit, x);
                for (int64_t h = 0; h < c->Hq; ++h)
                    for (int64_t j = 0; j < c->unit_len[piece]; ++j) {
                        int64_t mi = ((unit * c->Hq + h) * c->lq_max[k] + x) * nk + j;
                        int64_t gi = ((unit * c->Hq + h) * glq + t.pos) * nk + j;
                        float got = ring->softmax[k][mi], want = g->softmax[0][gi];
                        cr_assert_eq(signbit(got) != 0, signbit(want) != 0,
                                     "softmax sign (dropout) of member %d unit %lld head %lld "
                                     "query %lld key %lld: %g, single rank %g in %s",
                                     k, (long long)unit, (long long)h, (long long)t.pos,
                                     (long long)j, got, want, describe(c));
                        note(&w, got, want, PROB_TOLERANCE, k, mi);
                    }
            }
        }
    }
    ASSERT_WITHIN(w, SOFTMAX, c);
}

/* Runs the ring emulated and the single rank, and compares everything the forward returns. */
static void check_forward_case(const ring_case_t *c, uint64_t *rng)
{
    arrays_t ring, g;
    ring_alloc(&ring, c, rng);
    global_alloc(&g, c, &ring, rng);
    pattnGenerator_t start = {harness_next(rng), harness_next(rng) >> api_rng_int(rng, 4, 40)};
    for (int k = 0; k < c->n; ++k)
        ring.gens[k] = start;
    g.gens[0] = start;

    pattnResult_t r = pattnForwardEmulated(
        &c->params, ring.gens, (const void *const *)ring.qkv, ring.out, ring.lse, ring.rng_states,
        c->return_softmax ? ring.softmax : NULL, NULL);
    cr_assert_eq(r, pattnSuccess, "pattnForwardEmulated: %s in %s", pattnGetLastError(),
                 describe(c));
    r = pattnForward(NULL, &c->global_params, &g.gens[0], g.qkv[0], g.out[0], g.lse[0],
                     g.rng_states, c->return_softmax ? g.softmax[0] : NULL);
    cr_assert_eq(r, pattnSuccess, "pattnForward: %s in %s", pattnGetLastError(), describe(c));

    /* The generator contract (SPEC section 4), for every member and the single rank. */
    uint64_t advance = c->p_dropout > 0 ? (uint64_t)(num_units(c) * c->Hq * 32) : 0;
    for (int k = 0; k <= c->n; ++k) {
        const pattnGenerator_t *gen = k < c->n ? &ring.gens[k] : &g.gens[0];
        const int64_t *state = k < c->n ? ring.rng_states + 2 * k : g.rng_states;
        cr_assert((uint64_t)state[0] == start.seed && (uint64_t)state[1] == start.offset,
                  "rng_state of %s %d is [%lld, %lld], expected [%llu, %llu] in %s",
                  k < c->n ? "member" : "single rank", k, (long long)state[0],
                  (long long)state[1], (unsigned long long)start.seed,
                  (unsigned long long)start.offset, describe(c));
        cr_assert(gen->seed == start.seed && gen->offset == start.offset + advance,
                  "generator of %s %d advanced to offset %llu, expected %llu + %llu in %s",
                  k < c->n ? "member" : "single rank", k, (unsigned long long)gen->offset,
                  (unsigned long long)start.offset, (unsigned long long)advance, describe(c));
    }

    worst_t wo = {0}, wl = {0};
    for (int k = 0; k < c->n; ++k) {
        assert_all_written(c, "out", c->dtype, ring.out[k], c->rows[k] * c->out_cols, k);
        assert_all_written(c, "softmax_lse", PATTN_FP32, ring.lse[k], c->rows[k] * c->Hq, k);
        if (c->return_softmax)
            assert_all_written(c, "softmax", PATTN_FP32, ring.softmax[k],
                               softmax_elems(c, c->lq_max[k]), k);
        for (int64_t unit = 0; unit < num_units(c); ++unit)
            for (int64_t x = 0; x < c->len[k][piece_index(c, unit)]; ++x) {
                token_t t = locate(c, k, (int)unit, x);
                for (int64_t e = 0; e < c->out_cols; ++e) {
                    double got = pattn_load(c->dtype, ring.out[k], t.member_row * c->out_cols + e);
                    double want = pattn_load(c->dtype, g.out[0], t.global_row * c->out_cols + e);
                    note(&wo, got, want, out_tolerance(c->dtype, want), k,
                         t.member_row * c->out_cols + e);
                }
                for (int64_t h = 0; h < c->Hq; ++h) {
                    int64_t mi = member_lse_index(c, k, unit, h, &t);
                    note(&wl, ring.lse[k][mi], g.lse[0][global_lse_index(c, unit, h, &t)],
                         LSE_TOLERANCE, k, mi);
                }
            }
    }
    ASSERT_WITHIN(wo, OUT, c);
    ASSERT_WITHIN(wl, LSE, c);
    if (c->return_softmax)
        compare_softmax(c, &ring, &g);
    arrays_free(&ring);
    arrays_free(&g);
}

static void forward_trials(pattnDtype_t dtype, int trials)
{
    uint64_t rng = api_rng_fresh();
    for (int trial = 0; trial < trials; ++trial) {
        ring_case_t c;
        random_case(&rng, &c, dtype);
        check_forward_case(&c, &rng);
    }
    log_largest_ratios();
}

/*
 * The many small problems run on one OpenMP thread: Criterion runs tests side by side, and two
 * threads per test on two busy cores made these 50x slower (the OpenMP runtime's barriers spin).
 * dqkv_bit_identical_across_runs_and_threads checks that two threads give the same bits.
 */
static void one_thread(void) { omp_set_num_threads(1); }

Test(properties, ring_forward_equals_single_rank_fp32, .init = one_thread)
{
    forward_trials(PATTN_FP32, 200);
}
Test(properties, ring_forward_equals_single_rank_bf16, .init = one_thread)
{
    forward_trials(PATTN_BF16, 100);
}
Test(properties, ring_forward_equals_single_rank_fp16, .init = one_thread)
{
    forward_trials(PATTN_FP16, 60);
}

/* ---------------------------------------------------------------- the backward */
/* dqkv tolerance: fp32 partial sums in a different order (ring steps vs one pass) over at most
 * ~320 keys of terms <= ~1: 1e-4 absolute and relative; bf16 / fp16 add one ulp of the dtype. */
static double dqkv_tolerance(pattnDtype_t t, double ref)
{
    double ulp = t == PATTN_BF16 ? 0x1.0p-7 : t == PATTN_FP16 ? 0x1.0p-10 : 0.0;
    return 1e-4 + (1e-4 + ulp) * fabs(ref);
}

/* Runs the emulated forward (the ring's arrays get out, lse, rng_states). */
static void run_ring_forward(const ring_case_t *c, arrays_t *ring, pattnGenerator_t start)
{
    for (int k = 0; k < c->n; ++k)
        ring->gens[k] = start;
    pattnResult_t r = pattnForwardEmulated(&c->params, ring->gens, (const void *const *)ring->qkv,
                                           ring->out, ring->lse, ring->rng_states,
                                           c->return_softmax ? ring->softmax : NULL, NULL);
    cr_assert_eq(r, pattnSuccess, "pattnForwardEmulated: %s in %s", pattnGetLastError(),
                 describe(c));
}

static void run_ring_backward(const ring_case_t *c, arrays_t *ring)
{
    for (int k = 0; k < c->n; ++k)
        api_poison(ring->dqkv[k], (size_t)(c->rows[k] * c->cols) * dsize(c));
    pattnResult_t r = pattnBackwardEmulated(
        &c->params, (const void *const *)ring->qkv, (const void *const *)ring->out,
        (const float *const *)ring->lse, ring->rng_states, (const void *const *)ring->dout,
        ring->dqkv);
    cr_assert_eq(r, pattnSuccess, "pattnBackwardEmulated: %s in %s", pattnGetLastError(),
                 describe(c));
    for (int k = 0; k < c->n; ++k)
        assert_all_written(c, "dqkv", c->dtype, ring->dqkv[k], c->rows[k] * c->cols, k);
}

/* The single rank's backward on the ring's own forward results, reassembled, so that both
 * backwards see identical inputs and differ only in how they sum. */
static void check_backward_case(const ring_case_t *c, uint64_t *rng)
{
    arrays_t ring, g;
    ring_alloc(&ring, c, rng);
    global_alloc(&g, c, &ring, rng);
    pattnGenerator_t start = {harness_next(rng), harness_next(rng) >> 20};
    run_ring_forward(c, &ring, start);
    run_ring_backward(c, &ring);
    gather_forward(c, &ring, &g);
    pattnResult_t r = pattnBackward(NULL, &c->global_params, g.qkv[0], g.out[0], g.lse[0],
                                    ring.rng_states, g.dout[0], g.dqkv[0]);
    cr_assert_eq(r, pattnSuccess, "pattnBackward: %s in %s", pattnGetLastError(), describe(c));

    worst_t w = {0};
    for (int k = 0; k < c->n; ++k)
        for (int64_t unit = 0; unit < num_units(c); ++unit)
            for (int64_t x = 0; x < c->len[k][piece_index(c, unit)]; ++x) {
                token_t t = locate(c, k, (int)unit, x);
                for (int64_t e = 0; e < c->cols; ++e) {
                    double got = pattn_load(c->dtype, ring.dqkv[k], t.member_row * c->cols + e);
                    double want = pattn_load(c->dtype, g.dqkv[0], t.global_row * c->cols + e);
                    note(&w, got, want, dqkv_tolerance(c->dtype, want), k,
                         t.member_row * c->cols + e);
                }
            }
    ASSERT_WITHIN(w, DQKV, c);
    arrays_free(&ring);
    arrays_free(&g);
}

static void backward_trials(pattnDtype_t dtype, int trials)
{
    uint64_t rng = api_rng_fresh();
    for (int trial = 0; trial < trials; ++trial) {
        ring_case_t c;
        random_case(&rng, &c, dtype);
        check_backward_case(&c, &rng);
    }
    log_largest_ratios();
}

Test(properties, ring_backward_equals_single_rank_fp32, .init = one_thread)
{
    backward_trials(PATTN_FP32, 120);
}
Test(properties, ring_backward_equals_single_rank_bf16, .init = one_thread)
{
    backward_trials(PATTN_BF16, 60);
}

/* ---------------------------------------------------------------- switching strategies */
/* Two strategies over four pipelines: strategy 0 rings {0, 1} and {2, 3}, strategy 1 one ring
 * of all four, with other lengths. Pipeline 1 runs s1, s0, s1, s0 with one params struct; the
 * repeated runs must be bit-identical to the first ones. */
Test(properties, switching_strategy_gives_fresh_results, .init = one_thread)
{
    uint64_t rng = api_rng_fresh();
    ring_case_t c[2];
    for (int s = 0; s < 2; ++s) {
        memset(&c[s], 0, sizeof c[s]);
        c[s].dtype = PATTN_FP32;
        c[s].B = 2, c[s].Hkv = 2, c[s].r = 2, c[s].D = 16;
        c[s].split = s ? PATTN_SPLIT_SYM : PATTN_SPLIT_CONTIGUOUS;
        c[s].causal = 1, c[s].p_dropout = 0.3, c[s].return_softmax = 1, c[s].softmax_scale = -1;
        c[s].units = 1;
        c[s].n = s ? 4 : 2;
        for (int k = 0; k < c[s].n; ++k)
            c[s].len[k][0] = api_rng_int(&rng, 1, 30);
        finish_case(&rng, &c[s]); /* for the lengths and rows; params are built below */
    }
    int64_t seq_lens[2 * 4], groups[2 * 4] = {0, 0, 1, 1, 7, 7, 7, 7};
    for (int q = 0; q < 4; ++q) {
        seq_lens[q] = q < 2 ? c[0].len[q][0] : api_rng_int(&rng, 1, 30);
        seq_lens[4 + q] = c[1].len[q][0];
    }
    pattnParams_t params = c[0].params;
    params.num_strategies = 2;
    params.num_pipelines = 4;
    params.seq_lens = seq_lens;
    params.cp_groups = groups;
    params.pipeline = 1;

    arrays_t first[2], again[2];
    pattnGenerator_t start = {harness_next(&rng), 4096};
    static const int order[4] = {1, 0, 1, 0};
    for (int run = 0; run < 4; ++run) {
        int s = order[run];
        arrays_t *a = run < 2 ? &first[s] : &again[s];
        if (run < 2)
            ring_alloc(a, &c[s], &rng);
        else
            arrays_alloc(a, &c[s], c[s].n, c[s].rows, c[s].lq_max, &rng);
        if (run >= 2) /* same inputs as the first run of this strategy */
            for (int k = 0; k < c[s].n; ++k)
                memcpy(a->qkv[k], first[s].qkv[k], (size_t)(c[s].rows[k] * c[s].cols) * 4);
        params.strategy = s;
        params.split = c[s].split;
        params.rows = c[s].rows[1];
        for (int k = 0; k < c[s].n; ++k)
            a->gens[k] = start;
        pattnResult_t r = pattnForwardEmulated(&params, a->gens, (const void *const *)a->qkv,
                                               a->out, a->lse, a->rng_states, a->softmax, NULL);
        cr_assert_eq(r, pattnSuccess, "strategy %d: %s (seed %llu)", s, pattnGetLastError(),
                     (unsigned long long)api_seed);
    }
    for (int s = 0; s < 2; ++s) {
        for (int k = 0; k < c[s].n; ++k) {
            cr_assert(memcmp(first[s].out[k], again[s].out[k],
                             (size_t)(c[s].rows[k] * c[s].out_cols) * 4) == 0 &&
                          memcmp(first[s].lse[k], again[s].lse[k],
                                 (size_t)(c[s].rows[k] * c[s].Hq) * 4) == 0 &&
                          memcmp(first[s].softmax[k], again[s].softmax[k],
                                 (size_t)softmax_elems(&c[s], c[s].lq_max[k]) * 4) == 0,
                      "strategy %d member %d: result after switching differs from the first run "
                      "(seed %llu)",
                      s, k, (unsigned long long)api_seed);
            cr_assert(memcmp(first[s].rng_states, again[s].rng_states, 16 * (size_t)c[s].n) == 0,
                      "strategy %d: rng_states differ", s);
        }
        arrays_free(&first[s]);
        arrays_free(&again[s]);
    }
}

/* ---------------------------------------------------------------- determinism */
/* Several 128-row tiles per member, so threads really split the work. */
Test(properties, dqkv_bit_identical_across_runs_and_threads)
{
    uint64_t rng = api_rng_fresh();
    ring_case_t c;
    memset(&c, 0, sizeof c);
    c.dtype = api_rng_int(&rng, 0, 1) ? PATTN_BF16 : PATTN_FP32;
    c.B = 2, c.Hkv = 2, c.r = 2, c.D = 32, c.n = 3, c.units = 1;
    c.split = PATTN_SPLIT_SYM, c.causal = 1, c.p_dropout = 0.3, c.softmax_scale = -1;
    for (int k = 0; k < c.n; ++k)
        c.len[k][0] = api_rng_int(&rng, 100, 200);
    finish_case(&rng, &c);
    arrays_t ring;
    ring_alloc(&ring, &c, &rng);
    run_ring_forward(&c, &ring, (pattnGenerator_t){harness_next(&rng), 0});

    void *first[MAX_N];
    omp_set_num_threads(2);
    run_ring_backward(&c, &ring);
    for (int k = 0; k < c.n; ++k) {
        size_t bytes = (size_t)(c.rows[k] * c.cols) * dsize(&c);
        first[k] = api_malloc(bytes);
        memcpy(first[k], ring.dqkv[k], bytes);
    }
    static const int threads[2] = {2, 1};
    for (int run = 0; run < 2; ++run) {
        omp_set_num_threads(threads[run]);
        run_ring_backward(&c, &ring);
        for (int k = 0; k < c.n; ++k)
            cr_assert(memcmp(first[k], ring.dqkv[k], (size_t)(c.rows[k] * c.cols) * dsize(&c)) ==
                          0,
                      "dqkv of member %d differs between a 2-thread run and a %d-thread run in %s",
                      k, threads[run], describe(&c));
    }
    for (int k = 0; k < c.n; ++k)
        free(first[k]);
    arrays_free(&ring);
}

/* ---------------------------------------------------------------- finite differences */
/*
 * A tiny fp32 problem (one sample, L = 6, Hkv = 1, r = 2, D = 8, causal) with loss
 * sum(out * dout): dqkv must match central differences (f(x + h) - f(x - h)) / 2h with
 * h = 2^-7 (inputs are multiples of 2^-10, so x +- h is exact). Error budget:
 *   truncation  h^2 / 6 |f'''| = 2.6e-6 |f'''|: under 5e-5 even for |f'''| = 20;
 *   rounding    the 96 out elements carry ~1e-7 each, independently at x + h and x - h, so the
 *               loss difference ~1.4e-6, divided by 2h = 2^-6: ~9e-5.
 * Tolerance 2e-4 + 2e-3 |g| sits above both (measured worst: about a tenth of it). A wrong term
 * (a missing head of the group, the scale, the dropout factor 1/(1 - p)) moves gradients of
 * size 0.1 - 2 by 1e-2 or more.
 */
static double fd_loss(const pattnParams_t *params, pattnGenerator_t start, const float *qkv,
                      const float *dout, int64_t n_out)
{
    float out[6 * 16], lse[2 * 6];
    int64_t rng_state[2];
    pattnGenerator_t gen = start;
    pattnResult_t r = pattnForward(NULL, params, &gen, qkv, out, lse, rng_state, NULL);
    cr_assert_eq(r, pattnSuccess, "%s", pattnGetLastError());
    double loss = 0;
    for (int64_t i = 0; i < n_out; ++i)
        loss += (double)out[i] * dout[i];
    return loss;
}

static void check_finite_differences(double p_dropout)
{
    uint64_t rng = api_rng_fresh();
    enum { L = 6, HQ = 2, D = 8, COLS = (HQ + 2) * D, N_QKV = L * COLS, N_OUT = L * HQ * D };
    int64_t seq_lens[1] = {L}, groups[1] = {0};
    pattnParams_t params = PATTN_PARAMS_INIT;
    params.head_dim = D, params.group_query_ratio = 2, params.cols = COLS, params.rows = L;
    params.num_strategies = 1, params.num_pipelines = 1;
    params.seq_lens = seq_lens, params.cp_groups = groups;
    params.is_causal = 1, params.p_dropout = p_dropout;

    float qkv[N_QKV], dout[N_OUT], out[N_OUT], lse[HQ * L], dqkv[N_QKV];
    for (int i = 0; i < N_QKV; ++i)
        qkv[i] = (float)api_rng_int(&rng, -1024, 1024) / 1024.0f;
    api_fill_random(&rng, PATTN_FP32, dout, N_OUT, -1, 1);
    pattnGenerator_t start = {harness_next(&rng), 64}, gen = start;
    int64_t rng_state[2];
    cr_assert_eq(pattnForward(NULL, &params, &gen, qkv, out, lse, rng_state, NULL), pattnSuccess,
                 "%s", pattnGetLastError());
    api_poison(dqkv, sizeof dqkv);
    cr_assert_eq(pattnBackward(NULL, &params, qkv, out, lse, rng_state, dout, dqkv), pattnSuccess,
                 "%s", pattnGetLastError());

    const float h = 0x1.0p-7f;
    double largest = 0, worst = 0;
    for (int e = 0; e < N_QKV; ++e) {
        float x = qkv[e];
        qkv[e] = x + h;
        double up = fd_loss(&params, start, qkv, dout, N_OUT);
        qkv[e] = x - h;
        double down = fd_loss(&params, start, qkv, dout, N_OUT);
        qkv[e] = x;
        double fd = (up - down) / (2.0 * h), tol = 2e-4 + 2e-3 * fabs(fd);
        cr_assert(fabs(dqkv[e] - fd) <= tol,
                  "p=%g: dqkv[%d] (row %d, col %d) = %.6g, finite difference %.6g (tol %.2g) "
                  "(seed %llu)",
                  p_dropout, e, e / COLS, e % COLS, dqkv[e], fd, tol,
                  (unsigned long long)api_seed);
        largest = fmax(largest, fabs(fd));
        worst = fmax(worst, fabs(dqkv[e] - fd) / tol);
    }
    cr_assert(largest > 0.05, "gradients too small (%g) for the check to mean anything", largest);
    cr_log_info("p=%g: largest gradient %.3g, largest error %.3g of its tolerance", p_dropout,
                largest, worst);
}

Test(properties, dqkv_matches_finite_differences, .init = one_thread)
{
    check_finite_differences(0.0);
}
Test(properties, dqkv_matches_finite_differences_with_dropout, .init = one_thread)
{
    check_finite_differences(0.3);
}
