/*
 * case_load.c: loading a case folder's arrays and turning a case into call parameters
 * (case.h). Inputs (float16, float32 or float64; NaN and infinities allowed) are converted to
 * the case dtype with an exactness check; expected arrays are kept as read (float16/32/64,
 * rng_state integers) and checked for dtype here, for shape when compared; the members of a
 * ring are checked against each other before anything runs.
 */
#define _POSIX_C_SOURCE 200809L
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "case.h"
#include "dtype.h"

static const char *const OUTPUT_NAMES[CONF_NUM_OUTPUTS] = {"out", "lse", "rng_state", "softmax",
                                                           "dqkv"};

const char *conf_output_name(conf_output_t which) { return OUTPUT_NAMES[which]; }

/* Number of query heads times head_dim (the columns of out and dout) for qkv's columns. */
static int64_t case_out_cols(const conf_case_config_t *cfg, int64_t qkv_cols)
{
    int64_t heads = qkv_cols / cfg->head_dim;
    return heads / (cfg->group_query_ratio + 2) * cfg->group_query_ratio * cfg->head_dim;
}

int case_ring_members(const conf_case_config_t *cfg, int p, int *members)
{
    const int64_t *groups = cfg->cp_groups + (int64_t)cfg->strategy * cfg->num_pipelines;
    int n = 0;
    for (int q = 0; q < cfg->num_pipelines && n < PATTN_MAX_RING; ++q)
        if (groups[q] == groups[p])
            members[n++] = q;
    return n;
}

static const char *array_path(char *buf, size_t size, const char *dir, const char *stem, int p)
{
    snprintf(buf, size, "%s/%s.%d.npy", dir, stem, p);
    return buf;
}

/* Whether v is exactly a value of dtype (NaN and the infinities included), and that value. */
static int exact_in(pattnDtype_t dtype, double v, float *out)
{
    if (isnan(v)) {
        *out = NAN;
        return 1;
    }
    if (isfinite(v) && fabs(v) > FLT_MAX)
        return 0;
    *out = (float)v;
    return (double)*out == v && pattn_round_to(dtype, *out) == *out;
}

/* A float16/32/64 input of shape (rows, cols) converted to dtype; every value must be exact. */
static int load_input(const char *path, pattnDtype_t dtype, int64_t want_cols, void **out,
                      int64_t *rows, int64_t *cols, conf_error_t *err)
{
    *out = NULL;
    npy_array_t a;
    if (npy_read(path, &a, err))
        return -1;
    char shape[128], where[64];
    int rc = 0;
    if (a.dtype != NPY_F2 && a.dtype != NPY_F4 && a.dtype != NPY_F8)
        rc = conf_fail(err, "%s: dtype %s: expected <f2, <f4 or <f8 (holding values exactly "
                       "representable in %s)", path, npy_descr(a.dtype), pattnDtypeName(dtype));
    else if (a.ndim != 2 || (want_cols >= 0 && a.shape[1] != want_cols))
        rc = want_cols >= 0
                 ? conf_fail(err, "%s: shape %s: expected (rows, %lld)", path,
                             npy_format_shape(a.ndim, a.shape, shape, sizeof shape),
                             (long long)want_cols)
                 : conf_fail(err, "%s: shape %s: expected 2 dimensions (rows, cols)", path,
                             npy_format_shape(a.ndim, a.shape, shape, sizeof shape));
    if (rc == 0 && !(*out = malloc((size_t)(a.count ? a.count : 1) * pattn_dtype_size(dtype))))
        rc = conf_fail(err, "%s: out of memory", path);
    for (int64_t i = 0; rc == 0 && i < a.count; ++i) {
        double v = npy_get_f64(&a, i);
        float f;
        if (!exact_in(dtype, v, &f))
            rc = conf_fail(err, "%s: item %s = %.17g is not exactly representable in %s "
                           "(nearest: %.9g)",
                           path, npy_format_index(a.ndim, a.shape, i, where, sizeof where), v,
                           pattnDtypeName(dtype), (double)pattn_round_to(dtype, (float)v));
        else
            pattn_store(dtype, *out, i, f);
    }
    if (rc == 0) {
        *rows = a.shape[0];
        *cols = a.shape[1];
    } else {
        free(*out);
        *out = NULL;
    }
    npy_free(&a);
    return rc;
}

static int is_integer_dtype(npy_dtype_t t)
{
    return t == NPY_I4 || t == NPY_I8 || t == NPY_U1 || t == NPY_U2 || t == NPY_U4 ||
           t == NPY_U8;
}

/* Cumulative lengths: any integer dtype with values in int32 range, shape (P + 1) or
 * (ring, P + 1). */
static int load_cu_seqlens(const char *path, int ring, int32_t **out, int *num_seqs,
                           conf_error_t *err)
{
    *out = NULL;
    npy_array_t a;
    if (npy_read(path, &a, err))
        return -1;
    char shape[128];
    int rc = 0;
    int64_t width = a.ndim >= 1 ? a.shape[a.ndim - 1] : 0;
    if (!is_integer_dtype(a.dtype))
        rc = conf_fail(err, "%s: dtype %s: expected integers (<i4, <i8, <u4, <u8: cumulative "
                       "lengths)", path, npy_descr(a.dtype));
    else if (!((a.ndim == 1 && ring == 1) || (a.ndim == 2 && a.shape[0] == ring)) || width < 2)
        rc = conf_fail(err, "%s: shape %s: expected %s with P + 1 >= 2 entries per row", path,
                       npy_format_shape(a.ndim, a.shape, shape, sizeof shape),
                       ring == 1 ? "(P + 1,)" : "(ring size, P + 1)");
    if (rc == 0 && !(*out = malloc((size_t)a.count * sizeof **out)))
        rc = conf_fail(err, "%s: out of memory", path);
    for (int64_t i = 0; rc == 0 && i < a.count; ++i) {
        int64_t v = npy_get_i64(&a, i);
        if (v < 0 || v > INT32_MAX)
            rc = conf_fail(err, "%s: item %lld = %lld: expected a cumulative length in int32 "
                           "range", path, (long long)i, (long long)v);
        else
            (*out)[i] = (int32_t)v;
    }
    if (rc == 0) {
        *num_seqs = (int)(width - 1);
    } else {
        free(*out);
        *out = NULL;
    }
    npy_free(&a);
    return rc;
}

/* An expected array when the case has it: float16/32/64, rng_state integers (int64, or uint64
 * for seeds of 2^63 and more). */
static int load_expected(const char *path, conf_output_t which, npy_array_t *a, conf_error_t *err)
{
    memset(a, 0, sizeof *a);
    if (!case_is_file(path))
        return 0;
    if (npy_read(path, a, err))
        return -1;
    int ok = which == CONF_RNG_STATE
                 ? is_integer_dtype(a->dtype)
                 : (a->dtype == NPY_F2 || a->dtype == NPY_F4 || a->dtype == NPY_F8);
    if (!ok) {
        conf_fail(err, "%s: dtype %s: expected %s", path, npy_descr(a->dtype),
                  which == CONF_RNG_STATE ? "<i8 or <u8 ([seed, offset])" : "<f2, <f4 or <f8");
        npy_free(a);
        return -1;
    }
    if (a->count == 0 && !(a->data = malloc(1))) /* data != NULL marks "present" */
        return conf_fail(err, "%s: out of memory", path);
    return 0;
}

static int load_pipeline(conf_case_t *c, int p, conf_error_t *err)
{
    const conf_case_config_t *cfg = &c->cfg;
    conf_pipeline_t *pipe = &c->pipes[p];
    char path[4200];
    int members[PATTN_MAX_RING];
    int ring = case_ring_members(cfg, p, members);
    if (load_input(array_path(path, sizeof path, c->dir, "qkv", p), cfg->dtype, -1, &pipe->qkv,
                   &pipe->rows, &pipe->cols, err))
        return -1;
    if (cfg->backward) {
        int64_t rows, cols;
        array_path(path, sizeof path, c->dir, "dout", p);
        if (!case_is_file(path))
            return conf_fail(err, "%s is missing: the case has backward = 1", path);
        if (load_input(path, cfg->dtype, case_out_cols(cfg, pipe->cols), &pipe->dout, &rows,
                       &cols, err))
            return -1;
        if (rows != pipe->rows)
            return conf_fail(err, "%s: %lld rows: expected %lld, the rows of qkv.%d.npy", path,
                             (long long)rows, (long long)pipe->rows, p);
    }
    if (cfg->packing) {
        int pq, pk;
        if (load_cu_seqlens(array_path(path, sizeof path, c->dir, "cu_seqlens_q", p), ring,
                            &pipe->cu_seqlens_q, &pq, err) ||
            load_cu_seqlens(array_path(path, sizeof path, c->dir, "cu_seqlens_k", p), ring,
                            &pipe->cu_seqlens_k, &pk, err))
            return -1;
        if (pq != pk)
            return conf_fail(err, "%s: %d sequences, but cu_seqlens_q.%d.npy has %d", path, pk,
                             p, pq);
        pipe->num_seqs = pq;
    }
    for (int w = 0; w < CONF_NUM_OUTPUTS; ++w)
        if (load_expected(array_path(path, sizeof path, c->dir, OUTPUT_NAMES[w], p),
                          (conf_output_t)w, &pipe->expected[w], err))
            return -1;
    return 0;
}

/* Members of one ring must all be present, have qkv of the same columns (each member runs with
 * the ring's one set of parameters, its buffers sized from its own files) and (packing) carry
 * the same cu_seqlens. */
static int check_rings(const conf_case_t *c, conf_error_t *err)
{
    char path[4200];
    for (int p = 0; p < c->cfg.num_pipelines; ++p) {
        if (!c->pipes[p].present)
            continue;
        int members[PATTN_MAX_RING];
        int n = case_ring_members(&c->cfg, p, members);
        for (int k = 0; k < n; ++k) {
            const conf_pipeline_t *m = &c->pipes[members[k]];
            if (!m->present)
                return conf_fail(err, "%s is missing: pipeline %d is in the ring of pipeline %d "
                                 "(cp_groups), and a ring runs every member",
                                 array_path(path, sizeof path, c->dir, "qkv", members[k]),
                                 members[k], p);
            if (m->cols != c->pipes[p].cols)
                return conf_fail(err, "%s has %lld columns, qkv.%d.npy %lld: the members of a "
                                 "ring share head_dim and the head counts",
                                 array_path(path, sizeof path, c->dir, "qkv", members[k]),
                                 (long long)m->cols, p, (long long)c->pipes[p].cols);
            if (!c->cfg.packing || n == 1)
                continue;
            size_t bytes = (size_t)n * (size_t)(c->pipes[p].num_seqs + 1) * sizeof(int32_t);
            if (m->num_seqs != c->pipes[p].num_seqs ||
                memcmp(m->cu_seqlens_q, c->pipes[p].cu_seqlens_q, bytes) != 0 ||
                memcmp(m->cu_seqlens_k, c->pipes[p].cu_seqlens_k, bytes) != 0)
                return conf_fail(err, "%s differs from cu_seqlens_q/k.%d.npy: every member of a "
                                 "ring carries the same (n, P + 1) table",
                                 array_path(path, sizeof path, c->dir, "cu_seqlens_q",
                                            members[k]),
                                 p);
        }
    }
    return 0;
}

int case_load(const char *dir, const char *name, conf_case_t *c, conf_error_t *err)
{
    memset(c, 0, sizeof *c);
    snprintf(c->dir, sizeof c->dir, "%s", dir);
    snprintf(c->name, sizeof c->name, "%s", name);
    char path[4200];
    snprintf(path, sizeof path, "%s/case.txt", dir);
    if (case_parse_file(path, &c->cfg, err))
        return -1;
    if (!(c->pipes = calloc((size_t)c->cfg.num_pipelines, sizeof *c->pipes))) {
        case_free(c);
        return conf_fail(err, "%s: out of memory", dir);
    }
    int any = 0, rc = 0;
    for (int p = 0; p < c->cfg.num_pipelines; ++p)
        any |= c->pipes[p].present = case_is_file(array_path(path, sizeof path, dir, "qkv", p));
    for (int p = c->cfg.active_pipelines; rc == 0 && p < c->cfg.num_pipelines; ++p)
        if (c->pipes[p].present)
            rc = conf_fail(err, "%s: strategy %d lists only %d pipelines",
                           array_path(path, sizeof path, dir, "qkv", p), c->cfg.strategy,
                           c->cfg.active_pipelines);
    if (rc == 0 && !any)
        rc = conf_fail(err, "%s: no qkv.<p>.npy for any of the %d pipelines of strategy %d", dir,
                       c->cfg.active_pipelines, c->cfg.strategy);
    for (int p = 0; rc == 0 && p < c->cfg.num_pipelines; ++p)
        if (c->pipes[p].present)
            rc = load_pipeline(c, p, err);
    if (rc == 0)
        rc = check_rings(c, err);
    if (rc)
        case_free(c);
    return rc;
}

void case_free(conf_case_t *c)
{
    for (int p = 0; c->pipes && p < c->cfg.num_pipelines; ++p) {
        conf_pipeline_t *pipe = &c->pipes[p];
        free(pipe->qkv);
        free(pipe->dout);
        free(pipe->cu_seqlens_q);
        free(pipe->cu_seqlens_k);
        for (int w = 0; w < CONF_NUM_OUTPUTS; ++w)
            npy_free(&pipe->expected[w]);
    }
    free(c->pipes);
    c->pipes = NULL;
    case_config_free(&c->cfg);
}

/* Longest query piece on any row, and longest key sequence (summed over the ring's rows). */
static void derive_max_seqlens(const conf_pipeline_t *pipe, int rows, int64_t *max_q,
                               int64_t *max_k)
{
    int P = pipe->num_seqs;
    *max_q = *max_k = 0;
    for (int s = 0; s < P; ++s) {
        int64_t key_len = 0;
        for (int k = 0; k < rows; ++k) {
            const int32_t *q = pipe->cu_seqlens_q + (int64_t)k * (P + 1);
            const int32_t *kv = pipe->cu_seqlens_k + (int64_t)k * (P + 1);
            if (q[s + 1] - q[s] > *max_q)
                *max_q = q[s + 1] - q[s];
            key_len += kv[s + 1] - kv[s];
        }
        if (key_len > *max_k)
            *max_k = key_len;
    }
}

int case_params(const conf_case_t *c, int pipeline, pattnParams_t *params, conf_error_t *err)
{
    const conf_case_config_t *cfg = &c->cfg;
    if (pipeline < 0 || pipeline >= cfg->num_pipelines || !c->pipes[pipeline].present)
        return conf_fail(err, "%s: pipeline %d is not part of the case", c->dir, pipeline);
    const conf_pipeline_t *pipe = &c->pipes[pipeline];
    pattnParams_t p = PATTN_PARAMS_INIT;
    p.dtype = cfg->dtype;
    p.rows = pipe->rows;
    p.cols = pipe->cols;
    p.head_dim = cfg->head_dim;
    p.group_query_ratio = cfg->group_query_ratio;
    p.num_strategies = cfg->num_strategies;
    p.num_pipelines = cfg->num_pipelines;
    p.seq_lens = cfg->seq_lens;
    p.cp_groups = cfg->cp_groups;
    p.strategy = cfg->strategy;
    p.pipeline = pipeline;
    p.split = cfg->split;
    p.packing = cfg->packing;
    if (cfg->packing) {
        int members[PATTN_MAX_RING];
        int64_t max_q, max_k;
        derive_max_seqlens(pipe, case_ring_members(cfg, pipeline, members), &max_q, &max_k);
        p.num_seqs = pipe->num_seqs;
        p.cu_seqlens_q = pipe->cu_seqlens_q;
        p.cu_seqlens_k = pipe->cu_seqlens_k;
        p.max_seqlen_q = cfg->max_seqlen_q ? cfg->max_seqlen_q : max_q;
        p.max_seqlen_k = cfg->max_seqlen_k ? cfg->max_seqlen_k : max_k;
    }
    p.p_dropout = cfg->p_dropout;
    p.softmax_scale = cfg->softmax_scale;
    p.is_causal = cfg->is_causal;
    p.return_softmax = cfg->return_softmax;
    p.deterministic = cfg->deterministic;
    *params = p;
    return 0;
}
