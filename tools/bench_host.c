/*
 * bench_host.c: the reference runner of pattn-bench: host buffers, the monotonic clock around
 * each pattnForward (and pattnBackward), the row's peak RSS (getrusage), the check of the last
 * output on a sample (bench_check.h), then the sgemm yardstick.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "bench_check.h"
#include "bench_runner.h"
#include "bench_sgemm.h"
#include "dtype.h"

typedef struct host_call {
    pattnHandle_t handle;
    const pattnParams_t *params;
    pattnGenerator_t gen;
    const void *qkv;
    void *out;
    float *lse;
    int64_t rng_state[2];
    void *dout, *dqkv; /* backward rows */
} host_call_t;

static pattnResult_t time_host_call(void *ctx, bench_result_t *res, double *ms)
{
    host_call_t *h = ctx;
    double start = bench_now_ms();
    pattnResult_t r =
        pattnForward(h->handle, h->params, &h->gen, h->qkv, h->out, h->lse, h->rng_state, NULL);
    const char *call = "pattnForward";
    if (r == pattnSuccess && h->dout) {
        call = "pattnBackward";
        r = pattnBackward(h->handle, h->params, h->qkv, h->out, h->lse, h->rng_state, h->dout,
                          h->dqkv);
    }
    *ms = bench_now_ms() - start;
    if (r != pattnSuccess)
        return bench_fail(res, r, "%s: %s: %s", call, pattnGetErrorString(r), pattnGetLastError());
    return pattnSuccess;
}

int bench_reset_peak_rss(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f)
        return 0;
    int written = fputs("5", f) >= 0;
    return fclose(f) == 0 && written;
}

static double peak_rss_mib(void)
{
    struct rusage usage;
    if (getrusage(RUSAGE_SELF, &usage))
        return NAN;
    return (double)usage.ru_maxrss / 1024.0; /* KiB on Linux */
}

void bench_run_reference(const bench_case_t *c, const bench_options_t *opts, uint64_t seed,
                         bench_result_t *res)
{
    bench_reset_peak_rss();
    pattnParams_t params;
    int64_t seq_lens[1], cp_groups[1];
    bench_case_params(c, &params, seq_lens, cp_groups);
    size_t elem = pattn_dtype_size(c->dtype);
    host_call_t call = {.params = &params, .gen = {seed, 0}};
    void *qkv = malloc((size_t)bench_case_qkv_elems(c) * elem);
    call.out = malloc((size_t)bench_case_out_elems(c) * elem);
    call.lse = malloc((size_t)bench_case_lse_elems(c) * sizeof(float));
    if (c->backward) {
        call.dout = malloc((size_t)bench_case_out_elems(c) * elem);
        call.dqkv = malloc((size_t)bench_case_qkv_elems(c) * elem);
    }
    pattnResult_t r;
    if (!qkv || !call.out || !call.lse || (c->backward && (!call.dout || !call.dqkv))) {
        r = bench_fail(res, pattnSystemError, "out of host memory for qkv, out and lse (%.0f MB)",
                       (double)(bench_case_qkv_elems(c) + bench_case_out_elems(c)) * (double)elem /
                           1e6);
    } else if ((r = pattnCreate(&call.handle, PATTN_BACKEND_REFERENCE)) != pattnSuccess) {
        bench_fail(res, r, "pattnCreate: %s: %s", pattnGetErrorString(r), pattnGetLastError());
    } else {
        bench_fill_random(c->dtype, qkv, bench_case_qkv_elems(c), seed);
        if (c->backward)
            bench_fill_dout(c, call.dout, seed);
        call.qkv = qkv;
        r = bench_time_calls(time_host_call, &call, opts->warmup, opts->iters, res,
                             &res->median_ms, &res->min_ms);
        res->peak_rss_mib = peak_rss_mib();
        pattnDestroy(call.handle);
        if (r == pattnSuccess && opts->check) {
            bench_outputs_t got = {qkv, call.out, call.lse, call.rng_state, call.dout, call.dqkv};
            bench_check_row(c, &got, res);
            r = res->status;
        }
    }
    free(qkv);
    free(call.out);
    free(call.lse);
    free(call.dout);
    free(call.dqkv);
    if (r == pattnSuccess && opts->sgemm)
        bench_sgemm_rate(bench_case_flops(c), opts->iters, seed, res);
}
