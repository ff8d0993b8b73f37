/*
 * random_case.c: random configurations for the cross-check against the float64 oracle, and their
 * expected arrays and tolerances (random_case.h).
 * Generator: splitmix64, seeded per configuration from (seed, index).
 */
#include "random_case.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "case_oracle.h"
#include "dtype.h"
#include "splitmix.h"

typedef struct rng {
    uint64_t state;
} rng_t;

static uint64_t next_u64(rng_t *r) { return pattn_splitmix64(&r->state); }

static double uniform01(rng_t *r) { return (double)(next_u64(r) >> 11) * 0x1.0p-53; }

/* An integer in [lo, hi]. */
static int uniform_int(rng_t *r, int lo, int hi)
{
    return lo + (int)(next_u64(r) % (uint64_t)(hi - lo + 1));
}

static int chance(rng_t *r, double p) { return uniform01(r) < p; }

/* rows x cols values in [-2, 2], rounded to the dtype. */
static void *random_values(rng_t *r, pattnDtype_t dtype, int64_t count)
{
    void *a = malloc((size_t)(count ? count : 1) * pattn_dtype_size(dtype));
    for (int64_t i = 0; a && i < count; ++i)
        pattn_store(dtype, a, i, (float)(4.0 * uniform01(r) - 2.0));
    return a;
}

/* lengths[0..P) as cumulative lengths, into a malloc'd (P + 1) array. */
static int32_t *cumulative(const int *lengths, int P)
{
    int32_t *cu = malloc((size_t)(P + 1) * sizeof *cu);
    if (!cu)
        return NULL;
    cu[0] = 0;
    for (int s = 0; s < P; ++s)
        cu[s + 1] = cu[s] + lengths[s];
    return cu;
}

/* Splits total into P random non-negative parts. */
static void random_parts(rng_t *r, int total, int P, int *parts)
{
    for (int s = 0; s < P; ++s)
        parts[s] = 0;
    for (int t = 0; t < total; ++t)
        ++parts[uniform_int(r, 0, P - 1)];
}

static size_t describe_lengths(char *buf, size_t size, const char *name, const int *len, int P)
{
    size_t used = (size_t)snprintf(buf, size, " %s=[", name);
    for (int s = 0; s < P && used < size; ++s)
        used += (size_t)snprintf(buf + used, size - used, s ? ",%d" : "%d", len[s]);
    if (used < size)
        used += (size_t)snprintf(buf + used, size - used, "]");
    return used;
}

/* The longest sequence of a draw: half the draws stay within one tile of every kernel, half span
 * several (the 128-key kernels' main loop, past their first masked tile). */
static int draw_max_len(rng_t *r) { return chance(r, 0.5) ? 48 : 600; }

static int draw_packing(rng_t *r, conf_case_t *c, int64_t *rows, char *desc, size_t size)
{
    conf_pipeline_t *pipe = &c->pipes[0];
    int P = uniform_int(r, 1, 4), q_len[4], k_len[4], total = 0, longest = draw_max_len(r) / 2;
    for (int s = 0; s < P; ++s)
        total += q_len[s] = chance(r, 0.2) ? 0 : uniform_int(r, 1, longest);
    if (total == 0)
        total += q_len[0] = uniform_int(r, 1, longest);
    if (chance(r, 0.4))
        memcpy(k_len, q_len, sizeof q_len);
    else
        random_parts(r, total, P, k_len);
    pipe->num_seqs = P;
    pipe->cu_seqlens_q = cumulative(q_len, P);
    pipe->cu_seqlens_k = cumulative(k_len, P);
    if (!pipe->cu_seqlens_q || !pipe->cu_seqlens_k)
        return -1;
    if (chance(r, 0.25)) { /* a max_seqlen larger than needed only costs */
        c->cfg.max_seqlen_q = longest + 1 + uniform_int(r, 0, 8);
        c->cfg.max_seqlen_k = total + uniform_int(r, 0, 8);
    }
    *rows = total;
    size_t used = (size_t)snprintf(desc, size, "packed P=%d", P);
    used += describe_lengths(desc + used, size - used, "q", q_len, P);
    describe_lengths(desc + used, size - used, "k", k_len, P);
    return 0;
}

/* A ring of n = 2..4 members (every pipeline in group 0), uneven lengths, batched or packed (the
 * same (n, P + 1) table on every member, equal for queries and keys): sets the lengths and, when
 * packing, each pipe's cu_seqlens; rows[k] = member k's qkv rows. */
static int draw_ring(rng_t *r, conf_case_t *c, int n, int64_t *rows, char *desc, size_t size)
{
    conf_case_config_t *cfg = &c->cfg;
    const int longest = draw_max_len(r) / 2 + 1;
    size_t used = (size_t)snprintf(desc, size, "ring n=%d %s", n,
                                   cfg->split == PATTN_SPLIT_SYM ? "sym" : "contiguous");
    if (!cfg->packing) {
        const int64_t B = uniform_int(r, 1, 2);
        used += (size_t)snprintf(desc + used, size - used, " B=%lld L=[", (long long)B);
        for (int k = 0; k < n; ++k) {
            cfg->seq_lens[k] = uniform_int(r, 1, longest);
            rows[k] = B * cfg->seq_lens[k];
            used += (size_t)snprintf(desc + used, used < size ? size - used : 0, k ? ",%lld" : "%lld",
                                     (long long)cfg->seq_lens[k]);
        }
        if (used < size)
            snprintf(desc + used, size - used, "]");
        return 0;
    }
    const int P = uniform_int(r, 1, 3);
    int32_t *cu = malloc(sizeof *cu * (size_t)n * (P + 1));
    if (!cu)
        return -1;
    for (int k = 0; k < n; ++k) {
        int32_t *row = cu + k * (P + 1);
        row[0] = 0;
        for (int u = 0; u < P; ++u)
            row[u + 1] = row[u] + (chance(r, 0.15) ? 0 : uniform_int(r, 1, longest / P + 1));
        cfg->seq_lens[k] = rows[k] = row[P];
    }
    for (int k = 0; k < n; ++k) {
        conf_pipeline_t *pipe = &c->pipes[k];
        pipe->num_seqs = P;
        pipe->cu_seqlens_q = malloc(sizeof *cu * (size_t)n * (P + 1));
        pipe->cu_seqlens_k = malloc(sizeof *cu * (size_t)n * (P + 1));
        if (!pipe->cu_seqlens_q || !pipe->cu_seqlens_k) {
            free(cu);
            return -1;
        }
        memcpy(pipe->cu_seqlens_q, cu, sizeof *cu * (size_t)n * (P + 1));
        memcpy(pipe->cu_seqlens_k, cu, sizeof *cu * (size_t)n * (P + 1));
    }
    used += (size_t)snprintf(desc + used, size - used, " packed P=%d T=[", P);
    for (int k = 0; k < n; ++k)
        used += (size_t)snprintf(desc + used, used < size ? size - used : 0, k ? ",%lld" : "%lld",
                                 (long long)rows[k]);
    if (used < size)
        snprintf(desc + used, size - used, "]");
    free(cu);
    return 0;
}

int random_case_make(uint64_t seed, int index, conf_case_t *c, char *summary,
                     size_t size, conf_error_t *err)
{
    rng_t r = {seed ^ (0x2545f4914f6cdd1dull * (uint64_t)(index + 1))};
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "random/%d", index);
    snprintf(c->dir, sizeof c->dir, "(random configuration %d of seed %llu)", index,
             (unsigned long long)seed);
    conf_case_config_t *cfg = &c->cfg;
    cfg->dtype = chance(&r, 0.5) ? PATTN_FP16 : PATTN_BF16;
    /* a third at 64, 128, 192 and 256, the head dims with the most kernel code (the Hopper
     * kernels) */
    cfg->head_dim = chance(&r, 0.3) ? 64 * uniform_int(&r, 1, 4) : 8 * uniform_int(&r, 1, 32);
    cfg->group_query_ratio = uniform_int(&r, 1, 4);
    int64_t hkv = uniform_int(&r, 1, 2), hq = hkv * cfg->group_query_ratio;
    cfg->num_strategies = 1;
    cfg->is_causal = chance(&r, 0.5);
    cfg->return_softmax = chance(&r, 0.3);
    cfg->backward = chance(&r, 0.5);
    cfg->deterministic = chance(&r, 0.5); /* half the backward draws may use atomics */
    cfg->p_dropout = chance(&r, 0.5) ? 0.0 : (double)uniform_int(&r, 5, 50) / 100.0;
    /* A custom scale within [0.5, 2] times the default, the range models use (further out the
     * fp16/bf16 rounding of P and dS that the tensor-core backward shares with FlashAttention
     * outgrows the fixed tolerances long before a naive same-dtype implementation's error). */
    cfg->softmax_scale = chance(&r, 0.5) ? -1.0
                                         : (0.5 + 1.5 * uniform01(&r)) / sqrt((double)cfg->head_dim);
    cfg->rng_seed = next_u64(&r);
    cfg->rng_offset = next_u64(&r) >> 24;
    cfg->tolerance = tolerance_unset();
    cfg->packing = chance(&r, 0.5);
    const int n = chance(&r, 0.3) ? uniform_int(&r, 2, 4) : 1; /* ring members */
    cfg->split = n > 1 && chance(&r, 0.5) ? PATTN_SPLIT_SYM : PATTN_SPLIT_CONTIGUOUS;
    cfg->num_pipelines = cfg->active_pipelines = n;
    cfg->seq_lens = malloc(sizeof *cfg->seq_lens * (size_t)n);
    cfg->cp_groups = calloc((size_t)n, sizeof *cfg->cp_groups);
    c->pipes = calloc((size_t)n, sizeof *c->pipes);
    if (!cfg->seq_lens || !cfg->cp_groups || !c->pipes) {
        case_free(c);
        return conf_fail(err, "random configuration %d: out of memory", index);
    }
    char shape[256];
    int64_t rows[PATTN_MAX_RING] = {0};
    int failed = 0;
    if (n > 1) {
        failed = draw_ring(&r, c, n, rows, shape, sizeof shape);
    } else if (cfg->packing) {
        failed = draw_packing(&r, c, &rows[0], shape, sizeof shape);
        cfg->seq_lens[0] = rows[0];
    } else {
        int64_t B = uniform_int(&r, 1, 3), L = uniform_int(&r, 1, draw_max_len(&r));
        cfg->seq_lens[0] = L;
        rows[0] = B * L;
        snprintf(shape, sizeof shape, "B=%lld L=%lld", (long long)B, (long long)L);
    }
    for (int k = 0; !failed && k < n; ++k) {
        conf_pipeline_t *pipe = &c->pipes[k];
        pipe->present = 1;
        pipe->rows = rows[k];
        pipe->cols = (hq + 2 * hkv) * cfg->head_dim;
        pipe->qkv = random_values(&r, cfg->dtype, rows[k] * pipe->cols);
        pipe->dout = cfg->backward ? random_values(&r, cfg->dtype, rows[k] * hq * cfg->head_dim)
                                   : NULL;
        failed = !pipe->qkv || (cfg->backward && !pipe->dout);
    }
    if (failed) {
        case_free(c);
        return conf_fail(err, "random configuration %d: out of memory", index);
    }
    char scale[32] = "default";
    if (cfg->softmax_scale >= 0)
        snprintf(scale, sizeof scale, "%.4f", cfg->softmax_scale);
    snprintf(summary, size, "%s D=%lld Hq=%lld Hkv=%lld %s %s p=%.2f scale=%s%s%s",
             pattnDtypeName(cfg->dtype), (long long)cfg->head_dim, (long long)hq,
             (long long)hkv, shape, cfg->is_causal ? "causal" : "full", cfg->p_dropout, scale,
             cfg->return_softmax ? " return_softmax" : "",
             !cfg->backward ? "" : cfg->deterministic ? " backward" : " backward nondeterministic");
    return 0;
}

/* Elements of an output of pipeline p: what the oracle's array holds. */
static int64_t oracle_count(const conf_case_t *c, int p, conf_output_t w)
{
    const conf_pipeline_t *pipe = &c->pipes[p];
    const int64_t hq = pipe->cols / c->cfg.head_dim / (c->cfg.group_query_ratio + 2) *
                       c->cfg.group_query_ratio;
    return w == CONF_OUT ? pipe->rows * hq * c->cfg.head_dim
           : w == CONF_LSE ? pipe->rows * hq
                           : pipe->rows * pipe->cols;
}

int random_case_expect(conf_case_t *c, const conf_run_t *run, int softmax_from_run,
                       conf_error_t *err)
{
    case_oracle_t exact, naive;
    if (case_oracle_compute(c, CONF_ORACLE_EXACT, &exact, err))
        return -1;
    if (case_oracle_compute(c, CONF_ORACLE_NAIVE, &naive, err)) {
        case_oracle_free(&exact);
        return -1;
    }
    double naive_err[CONF_NUM_OUTPUTS] = {0}, noise[CONF_NUM_OUTPUTS] = {0};
    int rc = 0;
    for (int p = 0; !rc && p < c->cfg.num_pipelines; ++p)
        for (int w = 0; !rc && w < CONF_NUM_OUTPUTS; ++w) {
            const conf_outputs_t *out = &run->outputs[p];
            const conf_tensor_t *t = &out->tensor[w];
            npy_array_t *e = &c->pipes[p].expected[w];
            npy_free(e);
            if (!t->present || (w == CONF_SOFTMAX && !softmax_from_run))
                continue;
            const double *from_oracle = w == CONF_OUT    ? exact.out[p]
                                        : w == CONF_LSE  ? exact.lse[p]
                                        : w == CONF_DQKV ? exact.dqkv[p]
                                                         : NULL;
            const double *from_naive = w == CONF_OUT ? naive.out[p] : w == CONF_DQKV ? naive.dqkv[p]
                                                                                     : NULL;
            if (!from_oracle && w != CONF_RNG_STATE && w != CONF_SOFTMAX) {
                rc = conf_fail(err, "%s: the oracle computed no %s for pipeline %d", c->name,
                               conf_output_name((conf_output_t)w), p);
                break;
            }
            if (from_oracle && oracle_count(c, p, (conf_output_t)w) != t->count) {
                rc = conf_fail(err, "%s: %s.%d has %lld elements, the oracle computed %lld",
                               c->name, conf_output_name((conf_output_t)w), p,
                               (long long)t->count,
                               (long long)oracle_count(c, p, (conf_output_t)w));
                break;
            }
            int rng = w == CONF_RNG_STATE;
            if ((rc = npy_alloc(e, rng ? NPY_I8 : NPY_F8, t->ndim, t->shape, err)))
                break;
            if (!e->data && !(e->data = malloc(1))) { /* data != NULL marks "present" */
                rc = conf_fail(err, "out of memory");
                break;
            }
            for (int64_t i = 0; i < t->count; ++i) {
                if (rng)
                    ((int64_t *)e->data)[i] = out->rng_state[i];
                else
                    ((double *)e->data)[i] = from_oracle ? from_oracle[i] : t->values[i];
            }
            if (from_naive) {
                double m = case_oracle_max_error(from_naive, from_oracle, t->count);
                naive_err[w] = m > naive_err[w] ? m : naive_err[w];
                for (int64_t i = 0; i < t->count; ++i)
                    noise[w] = fmax(noise[w], tolerance_rounding_noise(c->cfg.dtype,
                                                                       from_oracle[i]));
            }
        }
    case_oracle_free(&exact);
    case_oracle_free(&naive);
    if (rc)
        return -1;
    if (!isfinite(naive_err[CONF_OUT]) || !isfinite(naive_err[CONF_DQKV]))
        return conf_fail(err, "%s: the naive same-dtype model left the finite range where the "
                         "oracle did not, so the draw has no FlashAttention baseline", c->name);
    /* FlashAttention's rule as the absolute tolerance of out and dqkv (random_case.h). */
    conf_tolerance_t *tol = &c->cfg.tolerance;
    tol->naive_err_out = naive_err[CONF_OUT];
    tol->atol_out = CONF_RULE_FACTOR_OUT * naive_err[CONF_OUT] + noise[CONF_OUT];
    if (c->cfg.backward) {
        tol->naive_err_dqkv = naive_err[CONF_DQKV];
        tol->atol_dqkv = CONF_RULE_FACTOR_DQKV * naive_err[CONF_DQKV] + noise[CONF_DQKV];
    }
    return 0;
}
