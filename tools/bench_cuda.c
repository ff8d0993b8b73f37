/*
 * bench_cuda.c: the CUDA runner of pattn-bench (built only with PATTN_HAVE_CUDA): device buffers
 * from cudaMalloc, inputs generated on the host and copied once, CUDA events recorded on the
 * handle's stream around each pattnForward (and pattnBackward with --backward; with
 * --hide-launch the stream is held by a host function first, so the calls' launches are queued
 * before the start event), the last output copied back for the check against the reference
 * (bench_check.h). Every CUDA return code is checked.
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench_check.h"
#include "bench_runner.h"
#include "dtype.h"

/* Records a failed CUDA call in res (with its location) and returns from the function. */
#define CUDA_CHECK(res, call)                                                                      \
    do {                                                                                           \
        cudaError_t err_ = (call);                                                                 \
        if (err_ != cudaSuccess)                                                                   \
            return bench_fail((res), pattnCudaError, "%s:%d: %s: %s", __FILE__, __LINE__, #call,   \
                              cudaGetErrorString(err_));                                           \
    } while (0)

typedef struct cuda_call {
    pattnHandle_t handle;
    const pattnParams_t *params;
    pattnGenerator_t gen;
    void *host_qkv, *host_dout;
    void *qkv, *out;
    float *lse;
    int64_t rng_state[2];
    void *dout, *dqkv; /* backward rows */
    void *host_out, *host_dqkv; /* the last output, for the check */
    float *host_lse;
    cudaStream_t stream;
    cudaEvent_t start, stop;
    int hide_launch;
} cuda_call_t;

/* Holds the stream for 200 us: longer than a call's host side and launches (about 11 us for a
 * forward), so that they are all queued when the stream moves on to the start event. */
static void CUDART_CB hold_stream(void *unused)
{
    (void)unused;
    const struct timespec t = {0, 200000};
    nanosleep(&t, NULL);
}

/* The forward (when forward) then the backward (when backward) between the call's CUDA events:
 * the elapsed time into *ms. */
static pattnResult_t time_between_events(cuda_call_t *k, int forward, int backward,
                                         bench_result_t *res, double *ms)
{
    if (k->hide_launch)
        CUDA_CHECK(res, cudaLaunchHostFunc(k->stream, hold_stream, NULL));
    CUDA_CHECK(res, cudaEventRecord(k->start, k->stream));
    pattnResult_t r;
    if (forward && (r = pattnForward(k->handle, k->params, &k->gen, k->qkv, k->out, k->lse,
                                     k->rng_state, NULL)) != pattnSuccess)
        return bench_fail(res, r, "pattnForward: %s: %s", pattnGetErrorString(r),
                          pattnGetLastError());
    if (backward && (r = pattnBackward(k->handle, k->params, k->qkv, k->out, k->lse, k->rng_state,
                                       k->dout, k->dqkv)) != pattnSuccess)
        return bench_fail(res, r, "pattnBackward: %s: %s", pattnGetErrorString(r),
                          pattnGetLastError());
    CUDA_CHECK(res, cudaEventRecord(k->stop, k->stream));
    CUDA_CHECK(res, cudaEventSynchronize(k->stop));
    float elapsed;
    CUDA_CHECK(res, cudaEventElapsedTime(&elapsed, k->start, k->stop));
    *ms = elapsed;
    return pattnSuccess;
}

/* The forward, and the backward where the case has one. */
static pattnResult_t time_cuda_call(void *ctx, bench_result_t *res, double *ms)
{
    cuda_call_t *k = ctx;
    return time_between_events(k, 1, k->dout != NULL, res, ms);
}

/* The backward alone, on the forward's last outputs: its own TFLOP/s. */
static pattnResult_t time_cuda_backward(void *ctx, bench_result_t *res, double *ms)
{
    return time_between_events(ctx, 0, 1, res, ms);
}

/* Copies the last timed call's outputs back and checks them against the reference. */
static pattnResult_t check_cuda(const bench_case_t *c, bench_result_t *res, cuda_call_t *k)
{
    size_t elem = pattn_dtype_size(c->dtype);
    size_t out_bytes = (size_t)bench_case_out_elems(c) * elem;
    size_t lse_bytes = (size_t)bench_case_lse_elems(c) * sizeof(float);
    size_t dqkv_bytes = c->backward ? (size_t)bench_case_qkv_elems(c) * elem : 0;
    k->host_out = malloc(out_bytes);
    k->host_lse = malloc(lse_bytes);
    k->host_dqkv = c->backward ? malloc(dqkv_bytes) : NULL;
    if (!k->host_out || !k->host_lse || (c->backward && !k->host_dqkv))
        return bench_fail(res, pattnSystemError, "out of host memory for the check");
    CUDA_CHECK(res, cudaMemcpy(k->host_out, k->out, out_bytes, cudaMemcpyDeviceToHost));
    CUDA_CHECK(res, cudaMemcpy(k->host_lse, k->lse, lse_bytes, cudaMemcpyDeviceToHost));
    if (c->backward)
        CUDA_CHECK(res, cudaMemcpy(k->host_dqkv, k->dqkv, dqkv_bytes, cudaMemcpyDeviceToHost));
    bench_outputs_t got = {k->host_qkv, k->host_out, k->host_lse, k->rng_state, k->host_dout,
                           k->host_dqkv};
    bench_check_row(c, &got, res);
    return res->status;
}

/* Allocates the row's buffers into k, copies fresh random inputs and times the calls. */
static pattnResult_t run_cuda(const bench_case_t *c, const bench_options_t *opts, uint64_t seed,
                              bench_result_t *res, cuda_call_t *k)
{
    size_t elem = pattn_dtype_size(c->dtype);
    size_t qkv_bytes = (size_t)bench_case_qkv_elems(c) * elem;
    k->hide_launch = opts->hide_launch;
    CUDA_CHECK(res, cudaMalloc(&k->qkv, qkv_bytes));
    CUDA_CHECK(res, cudaMalloc(&k->out, (size_t)bench_case_out_elems(c) * elem));
    CUDA_CHECK(res, cudaMalloc((void **)&k->lse, (size_t)bench_case_lse_elems(c) * sizeof(float)));
    if (!(k->host_qkv = malloc(qkv_bytes)))
        return bench_fail(res, pattnSystemError, "out of host memory for qkv (%.0f MB)",
                          (double)qkv_bytes / 1e6);
    bench_fill_random(c->dtype, k->host_qkv, bench_case_qkv_elems(c), seed);
    CUDA_CHECK(res, cudaMemcpy(k->qkv, k->host_qkv, qkv_bytes, cudaMemcpyHostToDevice));
    if (c->backward) {
        size_t out_bytes = (size_t)bench_case_out_elems(c) * elem;
        CUDA_CHECK(res, cudaMalloc(&k->dout, out_bytes));
        CUDA_CHECK(res, cudaMalloc(&k->dqkv, qkv_bytes));
        if (!(k->host_dout = malloc(out_bytes)))
            return bench_fail(res, pattnSystemError, "out of host memory for dout");
        bench_fill_dout(c, k->host_dout, seed);
        CUDA_CHECK(res, cudaMemcpy(k->dout, k->host_dout, out_bytes, cudaMemcpyHostToDevice));
    }
    CUDA_CHECK(res, cudaStreamCreateWithFlags(&k->stream, cudaStreamNonBlocking));
    CUDA_CHECK(res, cudaEventCreate(&k->start));
    CUDA_CHECK(res, cudaEventCreate(&k->stop));
    pattnResult_t r = pattnCreate(&k->handle, PATTN_BACKEND_CUDA);
    if (r == pattnSuccess)
        r = pattnSetStream(k->handle, k->stream);
    if (r != pattnSuccess)
        return bench_fail(res, r, "pattnCreate/pattnSetStream: %s: %s", pattnGetErrorString(r),
                          pattnGetLastError());
    r = bench_time_calls(time_cuda_call, k, opts->warmup, opts->iters, res, &res->median_ms,
                         &res->min_ms);
    double bwd_min_ms;
    if (r == pattnSuccess && c->backward)
        r = bench_time_calls(time_cuda_backward, k, opts->warmup, opts->iters, res,
                             &res->bwd_median_ms, &bwd_min_ms);
    return r == pattnSuccess && opts->check ? check_cuda(c, res, k) : r;
}

/* Records a failed clean-up call, unless the row already failed (the first error is the story). */
static void check_release(bench_result_t *res, cudaError_t err, const char *what)
{
    if (err != cudaSuccess && res->status == pattnSuccess)
        bench_fail(res, pattnCudaError, "%s: %s", what, cudaGetErrorString(err));
}

/* Frees everything run_cuda allocated, even after a failure. */
static void release_cuda(cuda_call_t *k, bench_result_t *res)
{
    free(k->host_qkv);
    free(k->host_dout);
    free(k->host_out);
    free(k->host_lse);
    free(k->host_dqkv);
    if (k->handle)
        pattnDestroy(k->handle);
    if (k->stop)
        check_release(res, cudaEventDestroy(k->stop), "cudaEventDestroy(stop)");
    if (k->start)
        check_release(res, cudaEventDestroy(k->start), "cudaEventDestroy(start)");
    if (k->stream)
        check_release(res, cudaStreamDestroy(k->stream), "cudaStreamDestroy");
    check_release(res, cudaFree(k->dqkv), "cudaFree(dqkv)");
    check_release(res, cudaFree(k->dout), "cudaFree(dout)");
    check_release(res, cudaFree(k->lse), "cudaFree(lse)");
    check_release(res, cudaFree(k->out), "cudaFree(out)");
    check_release(res, cudaFree(k->qkv), "cudaFree(qkv)");
}

void bench_run_cuda(const bench_case_t *c, const bench_options_t *opts, uint64_t seed,
                    bench_result_t *res)
{
    pattnParams_t params;
    int64_t seq_lens[1], cp_groups[1];
    bench_case_params(c, &params, seq_lens, cp_groups);
    cuda_call_t call = {.params = &params, .gen = {seed, 0}};
    run_cuda(c, opts, seed, res, &call);
    release_cuda(&call, res);
}

void bench_describe_cuda_device(char *text, size_t size, char *name, size_t name_size)
{
    int device;
    struct cudaDeviceProp prop;
    cudaError_t err = cudaGetDevice(&device);
    if (err == cudaSuccess)
        err = cudaGetDeviceProperties(&prop, device);
    snprintf(name, name_size, "%s", err == cudaSuccess ? prop.name : "");
    if (err != cudaSuccess)
        snprintf(text, size, "no CUDA device: %s", cudaGetErrorString(err));
    else
        snprintf(text, size, "device %d: %s, sm_%d%d, %d SMs, %.1f GiB", device, prop.name,
                 prop.major, prop.minor, prop.multiProcessorCount,
                 (double)prop.totalGlobalMem / (1024.0 * 1024.0 * 1024.0));
}
