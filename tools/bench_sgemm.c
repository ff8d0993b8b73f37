/*
 * bench_sgemm.c: cblas_sgemm of the same FLOP count as an attention forward: C = A B with
 * n x n matrices, n = cbrt(flops / 2) capped at BENCH_SGEMM_MAX_N and repeated to make up the rest.
 */
#include "bench_sgemm.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>

typedef struct sgemm_work {
    int n;
    int64_t calls;
    const float *a, *b;
    float *c;
} sgemm_work_t;

static void sgemm_once(const sgemm_work_t *w)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, w->n, w->n, w->n, 1.0f, w->a, w->n,
                w->b, w->n, 0.0f, w->c, w->n);
}

static pattnResult_t time_sgemm_work(void *ctx, bench_result_t *res, double *ms)
{
    const sgemm_work_t *w = ctx;
    double start = bench_now_ms();
    for (int64_t i = 0; i < w->calls; ++i)
        sgemm_once(w);
    *ms = bench_now_ms() - start;
    return pattnSuccess;
}

pattnResult_t bench_sgemm_rate(double flops, int iters, uint64_t seed, bench_result_t *res)
{
    int64_t n = llround(cbrt(flops / 2));
    n = n < 16 ? 16 : n > BENCH_SGEMM_MAX_N ? BENCH_SGEMM_MAX_N : n;
    double flops_per_call = 2.0 * (double)n * (double)n * (double)n;
    sgemm_work_t work = {.n = (int)n, .calls = llround(flops / flops_per_call)};
    if (work.calls < 1)
        work.calls = 1;
    size_t elems = (size_t)(n * n);
    float *a = malloc(elems * sizeof *a), *b = malloc(elems * sizeof *b),
          *c = malloc(elems * sizeof *c);
    pattnResult_t r;
    if (!a || !b || !c) {
        r = bench_fail(res, pattnSystemError, "sgemm: out of host memory for 3 x %lld^2 floats",
                       (long long)n);
    } else {
        bench_fill_random(PATTN_FP32, a, (int64_t)elems, seed);
        bench_fill_random(PATTN_FP32, b, (int64_t)elems, ~seed);
        work.a = a;
        work.b = b;
        work.c = c;
        sgemm_once(&work);
        double median_ms, min_ms;
        r = bench_time_calls(time_sgemm_work, &work, 0, iters, res, &median_ms, &min_ms);
        if (r == pattnSuccess)
            res->sgemm_gflops = flops_per_call * (double)work.calls / (median_ms * 1e-3) * 1e-9;
    }
    free(a);
    free(b);
    free(c);
    return r;
}
