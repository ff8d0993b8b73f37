/*
 * random_case.c: random configurations for the cuda-vs-reference cross-check (random_case.h).
 * Generator: splitmix64, seeded per configuration from (seed, index).
 */
#include "random_case.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"

typedef struct rng {
    uint64_t state;
} rng_t;

static uint64_t next_u64(rng_t *r)
{
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

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

int random_case_make(uint64_t seed, int index, int with_backward, conf_case_t *c, char *summary,
                     size_t size, conf_error_t *err)
{
    rng_t r = {seed ^ (0x2545f4914f6cdd1dull * (uint64_t)(index + 1))};
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "random/%d", index);
    snprintf(c->dir, sizeof c->dir, "(random configuration %d of seed %llu)", index,
             (unsigned long long)seed);
    conf_case_config_t *cfg = &c->cfg;
    cfg->dtype = chance(&r, 0.5) ? PATTN_FP16 : PATTN_BF16;
    cfg->head_dim = 8 * uniform_int(&r, 1, 32);
    cfg->group_query_ratio = uniform_int(&r, 1, 4);
    int64_t hkv = uniform_int(&r, 1, 2), hq = hkv * cfg->group_query_ratio;
    cfg->num_strategies = cfg->num_pipelines = cfg->active_pipelines = 1;
    cfg->split = PATTN_SPLIT_CONTIGUOUS;
    cfg->is_causal = chance(&r, 0.5);
    cfg->return_softmax = chance(&r, 0.3);
    cfg->backward = chance(&r, 0.5) && with_backward;
    cfg->p_dropout = chance(&r, 0.5) ? 0.0 : (double)uniform_int(&r, 5, 50) / 100.0;
    cfg->softmax_scale = chance(&r, 0.5) ? -1.0 : 0.02 + 0.28 * uniform01(&r);
    cfg->rng_seed = next_u64(&r);
    cfg->rng_offset = next_u64(&r) >> 24;
    cfg->tolerance = tolerance_unset();
    cfg->packing = chance(&r, 0.5);
    cfg->seq_lens = malloc(sizeof *cfg->seq_lens);
    cfg->cp_groups = calloc(1, sizeof *cfg->cp_groups);
    c->pipes = calloc(1, sizeof *c->pipes);
    if (!cfg->seq_lens || !cfg->cp_groups || !c->pipes) {
        case_free(c);
        return conf_fail(err, "random configuration %d: out of memory", index);
    }
    conf_pipeline_t *pipe = &c->pipes[0];
    pipe->present = 1;
    char shape[256];
    int64_t rows;
    if (cfg->packing) {
        if (draw_packing(&r, c, &rows, shape, sizeof shape)) {
            case_free(c);
            return conf_fail(err, "random configuration %d: out of memory", index);
        }
        cfg->seq_lens[0] = rows;
    } else {
        int64_t B = uniform_int(&r, 1, 3), L = uniform_int(&r, 1, draw_max_len(&r));
        cfg->seq_lens[0] = L;
        rows = B * L;
        snprintf(shape, sizeof shape, "B=%lld L=%lld", (long long)B, (long long)L);
    }
    pipe->rows = rows;
    pipe->cols = (hq + 2 * hkv) * cfg->head_dim;
    pipe->qkv = random_values(&r, cfg->dtype, rows * pipe->cols);
    pipe->dout = cfg->backward ? random_values(&r, cfg->dtype, rows * hq * cfg->head_dim) : NULL;
    if (!pipe->qkv || (cfg->backward && !pipe->dout)) {
        case_free(c);
        return conf_fail(err, "random configuration %d: out of memory", index);
    }
    char scale[32] = "default";
    if (cfg->softmax_scale >= 0)
        snprintf(scale, sizeof scale, "%.4f", cfg->softmax_scale);
    snprintf(summary, size, "%s D=%lld Hq=%lld Hkv=%lld %s %s p=%.2f scale=%s%s%s",
             pattnDtypeName(cfg->dtype), (long long)cfg->head_dim, (long long)hq,
             (long long)hkv, shape, cfg->is_causal ? "causal" : "full", cfg->p_dropout, scale,
             cfg->return_softmax ? " return_softmax" : "", cfg->backward ? " backward" : "");
    return 0;
}

int random_case_expect(conf_case_t *c, const conf_run_t *run, conf_error_t *err)
{
    const conf_outputs_t *out = &run->outputs[0];
    for (int w = 0; w < CONF_NUM_OUTPUTS; ++w) {
        const conf_tensor_t *t = &out->tensor[w];
        npy_array_t *e = &c->pipes[0].expected[w];
        npy_free(e);
        if (!t->present)
            continue;
        int rng = w == CONF_RNG_STATE;
        if (npy_alloc(e, rng ? NPY_I8 : NPY_F8, t->ndim, t->shape, err))
            return -1;
        if (!e->data && !(e->data = malloc(1))) /* data != NULL marks "present" */
            return conf_fail(err, "out of memory");
        for (int64_t i = 0; i < t->count; ++i) {
            if (rng)
                ((int64_t *)e->data)[i] = out->rng_state[i];
            else
                ((double *)e->data)[i] = t->values[i];
        }
    }
    return 0;
}
