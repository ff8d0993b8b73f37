/*
 * bench_case.c: what pattn-bench's runners share: the parameters and sizes of a row, random
 * inputs, the clock, and the warmup + timed-calls loop with its median.
 */
#define _POSIX_C_SOURCE 200809L
#include "bench_case.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "dtype.h"
#include "splitmix.h"

void bench_case_params(const bench_case_t *c, pattnParams_t *params, int64_t *seq_lens,
                       int64_t *cp_groups)
{
    pattnParams_t p = PATTN_PARAMS_INIT;
    *seq_lens = c->seqlen;
    *cp_groups = 0;
    p.dtype = c->dtype;
    p.rows = c->batch * c->seqlen;
    p.cols = (c->heads + 2 * c->kv_heads) * c->head_dim;
    p.head_dim = c->head_dim;
    p.group_query_ratio = c->heads / c->kv_heads;
    p.num_strategies = 1;
    p.num_pipelines = 1;
    p.seq_lens = seq_lens;
    p.cp_groups = cp_groups;
    p.p_dropout = c->dropout;
    p.is_causal = c->causal;
    p.deterministic = c->deterministic;
    *params = p;
}

double bench_case_flops(const bench_case_t *c)
{
    double flops = 4.0 * (double)c->batch * (double)c->seqlen * (double)c->seqlen *
                   (double)c->heads * (double)c->head_dim;
    flops = c->causal ? flops / 2 : flops;
    flops *= c->ring > 1 ? (double)c->ring : 1.0;
    return c->backward ? 3.5 * flops : flops;
}

int bench_case_fits(const bench_case_t *c)
{
    double qkv = (double)c->batch * (double)c->seqlen *
                 ((double)c->heads + 2.0 * (double)c->kv_heads) * (double)c->head_dim;
    return qkv < 0x1p56; /* bytes (at most 4 per element) stay far below 2^63 */
}

int64_t bench_case_qkv_elems(const bench_case_t *c)
{
    return c->batch * c->seqlen * (c->heads + 2 * c->kv_heads) * c->head_dim;
}

int64_t bench_case_out_elems(const bench_case_t *c)
{
    return c->batch * c->seqlen * c->heads * c->head_dim;
}

int64_t bench_case_lse_elems(const bench_case_t *c) { return c->batch * c->heads * c->seqlen; }


void bench_fill_random(pattnDtype_t dtype, void *buffer, int64_t count, uint64_t seed)
{
    uint64_t state = seed;
    for (int64_t i = 0; i < count; ++i) {
        float unit = (float)(pattn_splitmix64(&state) >> 40) * 0x1p-24f; /* [0, 1) */
        pattn_store(dtype, buffer, i, 2.0f * unit - 1.0f);
    }
}

void bench_fill_dout(const bench_case_t *c, void *dout, uint64_t seed)
{
    bench_fill_random(c->dtype, dout, bench_case_out_elems(c), seed ^ 0x5bd1e995u);
}

double bench_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

pattnResult_t bench_fail(bench_result_t *res, pattnResult_t status, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    vsnprintf(res->message, sizeof res->message, fmt, args);
    va_end(args);
    res->status = status;
    return status;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_case_tflops(const bench_case_t *c, const bench_result_t *res)
{
    return bench_case_flops(c) / (res->median_ms * 1e-3) * 1e-12;
}

double bench_case_bwd_tflops(const bench_case_t *c, const bench_result_t *res)
{
    return bench_case_flops(c) / 3.5 * 2.5 / (res->bwd_median_ms * 1e-3) * 1e-12;
}

pattnResult_t bench_time_calls(bench_timed_call_fn call, void *ctx, int warmup, int iters,
                               bench_result_t *res, double *median_ms, double *min_ms)
{
    double *times = malloc((size_t)iters * sizeof *times);
    if (!times)
        return bench_fail(res, pattnSystemError, "out of host memory for %d timings", iters);
    pattnResult_t r = pattnSuccess;
    for (int i = 0; i < warmup + iters && r == pattnSuccess; ++i) {
        double ms;
        r = call(ctx, res, &ms);
        if (i >= warmup)
            times[i - warmup] = ms;
    }
    if (r == pattnSuccess) {
        qsort(times, (size_t)iters, sizeof *times, compare_doubles);
        *min_ms = times[0];
        *median_ms = iters % 2 ? times[iters / 2] : 0.5 * (times[iters / 2 - 1] + times[iters / 2]);
    }
    free(times);
    return r;
}
