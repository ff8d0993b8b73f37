/*
 * bench_ring.c: pattn-bench's ring mode (--ring N, CUDA builds): a ring of N members, each
 * holding `seqlen` tokens of every sample, one thread per member on GPU member % GPUs, over the
 * local transport or NCCL (--transport). Every member calls pattnForward (and pattnBackward
 * with --backward) together; member 0's calls are timed on the host (a ring call returns once
 * its outputs are complete) and profiled by the ring's own events (dist/ring_profile.h): per
 * step, the compute stream's time and the transfers' GPU time and bytes, from which the
 * achieved bandwidth and the share of the transfers hidden behind compute follow.
 */
#define _POSIX_C_SOURCE 200809L
#include <cuda_runtime.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_runner.h"
#include "dtype.h"
#include "ring_profile.h"

typedef struct ring_run {
    const bench_case_t *c;
    const bench_options_t *opts;
    uint64_t seed;
    int members;
    int64_t seq_lens[PATTN_MAX_RING], cp_groups[PATTN_MAX_RING];
    pattnComm_t comms[PATTN_MAX_RING];
    int nccl;           /* the members make their NCCL communicators from id */
    pattnUniqueId_t id;
    pthread_barrier_t start;
} ring_run_t;

typedef struct member {
    ring_run_t *run;
    int k;
    pattnResult_t r;
    char why[600];
    double *fwd_ms, *bwd_ms; /* member 0: per timed call */
    pattn_ring_profile_t profile;
} member_t;

static pattnResult_t pattn_bench_unsupported(const char *why)
{
    fprintf(stderr, "pattn-bench: %s\n", why);
    return pattnUnsupported;
}

static int compare_ms(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *x, int n)
{
    qsort(x, (size_t)n, sizeof *x, compare_ms);
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

#define CUDA_OR_FAIL(call)                                                                         \
    do {                                                                                           \
        cudaError_t e_ = (call);                                                                   \
        if (e_ != cudaSuccess) {                                                                   \
            m->r = pattnCudaError;                                                                 \
            snprintf(m->why, sizeof m->why, "%s: %s", #call, cudaGetErrorString(e_));             \
            goto done;                                                                             \
        }                                                                                          \
    } while (0)

static void *member_main(void *arg)
{
    member_t *m = arg;
    ring_run_t *run = m->run;
    const bench_case_t *c = run->c;
    int gpus = 1;
    cudaGetDeviceCount(&gpus);
    void *qkv = NULL, *out = NULL, *dout = NULL, *dqkv = NULL, *host = NULL;
    float *lse = NULL;
    pattnHandle_t h = NULL;
    pattnParams_t p;
    bench_case_params(c, &p, run->seq_lens, run->cp_groups);
    p.num_pipelines = run->members;
    p.seq_lens = run->seq_lens;
    p.cp_groups = run->cp_groups;
    p.pipeline = m->k;
    p.split = c->causal ? PATTN_SPLIT_SYM : PATTN_SPLIT_CONTIGUOUS; /* sym balances causal work */
    const size_t es = pattn_dtype_size(c->dtype);
    const size_t qkv_bytes = (size_t)bench_case_qkv_elems(c) * es;
    const size_t out_bytes = (size_t)bench_case_out_elems(c) * es;
    CUDA_OR_FAIL(cudaSetDevice(m->k % gpus));
    CUDA_OR_FAIL(cudaMalloc(&qkv, qkv_bytes));
    CUDA_OR_FAIL(cudaMalloc(&out, out_bytes));
    CUDA_OR_FAIL(cudaMalloc((void **)&lse, (size_t)bench_case_lse_elems(c) * sizeof(float)));
    if (!(host = malloc(qkv_bytes > out_bytes ? qkv_bytes : out_bytes))) {
        m->r = pattnSystemError;
        snprintf(m->why, sizeof m->why, "out of host memory");
        goto done;
    }
    bench_fill_random(c->dtype, host, bench_case_qkv_elems(c), run->seed + (uint64_t)m->k);
    CUDA_OR_FAIL(cudaMemcpy(qkv, host, qkv_bytes, cudaMemcpyHostToDevice));
    if (c->backward) {
        CUDA_OR_FAIL(cudaMalloc(&dout, out_bytes));
        CUDA_OR_FAIL(cudaMalloc(&dqkv, qkv_bytes));
        bench_fill_dout(c, host, run->seed + (uint64_t)m->k);
        CUDA_OR_FAIL(cudaMemcpy(dout, host, out_bytes, cudaMemcpyHostToDevice));
    }
    if (run->nccl && (m->r = pattnCommInitRank(&run->comms[m->k], run->members, &run->id, m->k)) !=
                         pattnSuccess) {
        snprintf(m->why, sizeof m->why, "pattnCommInitRank: %s", pattnGetLastError());
        pthread_barrier_wait(&run->start); /* the others stop at their first exchange */
        goto done;
    }
    if ((m->r = pattnCreate(&h, PATTN_BACKEND_CUDA)) != pattnSuccess ||
        (m->r = pattnSetComm(h, run->comms[m->k])) != pattnSuccess) {
        snprintf(m->why, sizeof m->why, "%s", pattnGetLastError());
        pthread_barrier_wait(&run->start);
        goto done;
    }
    pattn_ring_profile_enable(m->k == 0);
    pthread_barrier_wait(&run->start);
    const int calls = run->opts->warmup + run->opts->iters;
    /* A member that failed above has passed the barrier too: the others then fail at their
     * first exchange with a timeout, so the row reports the first member's reason. */
    for (int i = 0; i < calls && m->r == pattnSuccess; ++i) {
        pattnGenerator_t gen = {run->seed, 0};
        int64_t rng[2];
        double t0 = bench_now_ms();
        m->r = pattnForward(h, &p, &gen, qkv, out, lse, rng, NULL);
        double t1 = bench_now_ms();
        if (m->r == pattnSuccess && m->k == 0)
            m->profile = *pattn_ring_last_profile();
        if (m->r == pattnSuccess && c->backward)
            m->r = pattnBackward(h, &p, qkv, out, lse, rng, dout, dqkv);
        double t2 = bench_now_ms();
        if (m->fwd_ms && i >= run->opts->warmup) {
            m->fwd_ms[i - run->opts->warmup] = t1 - t0;
            m->bwd_ms[i - run->opts->warmup] = t2 - t1;
        }
    }
    if (m->r != pattnSuccess)
        snprintf(m->why, sizeof m->why, "%s: %s", pattnGetErrorString(m->r), pattnGetLastError());
    pattn_ring_profile_enable(0);
done:
    if (h)
        pattnDestroy(h);
    cudaFree(qkv);
    cudaFree(out);
    cudaFree(lse);
    cudaFree(dout);
    cudaFree(dqkv);
    free(host);
    return NULL;
}

void bench_run_ring(const bench_case_t *c, const bench_options_t *opts, uint64_t seed,
                    bench_result_t *res)
{
    const int n = opts->ring;
    ring_run_t run = {.c = c, .opts = opts, .seed = seed, .members = n};
    member_t m[PATTN_MAX_RING];
    pthread_t th[PATTN_MAX_RING];
    double *fwd = calloc((size_t)opts->iters, sizeof *fwd), *bwd = calloc((size_t)opts->iters, sizeof *bwd);
    int gpus = 1;
    cudaGetDeviceCount(&gpus);
    int devices[PATTN_MAX_RING];
    for (int k = 0; k < n; ++k) {
        run.seq_lens[k] = c->seqlen;
        run.cp_groups[k] = 0;
        devices[k] = k % gpus;
    }
    pattnResult_t r = fwd && bwd ? pattnSuccess : pattnSystemError;
    run.nccl = !strcmp(opts->transport, "nccl");
    if (r == pattnSuccess && run.nccl && gpus < n)
        r = pattn_bench_unsupported("--transport nccl needs a GPU per member");
    else if (r == pattnSuccess && run.nccl)
        r = pattnGetUniqueId(&run.id);
    else if (r == pattnSuccess)
        r = pattnCommInitLocal(run.comms, n, devices);
    if (r != pattnSuccess) {
        bench_fail(res, r, "ring of %d over %s: %s", n, opts->transport, pattnGetLastError());
        free(fwd);
        free(bwd);
        return;
    }
    pthread_barrier_init(&run.start, NULL, (unsigned)n);
    for (int k = 0; k < n; ++k) {
        m[k] = (member_t){.run = &run, .k = k, .fwd_ms = k == 0 ? fwd : NULL, .bwd_ms = k == 0 ? bwd : NULL};
        pthread_create(&th[k], NULL, member_main, &m[k]);
    }
    for (int k = 0; k < n; ++k)
        pthread_join(th[k], NULL);
    pthread_barrier_destroy(&run.start);
    for (int k = 0; k < n; ++k)
        pattnCommDestroy(run.comms[k]);
    for (int k = 0; k < n && res->status == pattnSuccess; ++k)
        if (m[k].r != pattnSuccess)
            bench_fail(res, m[k].r, "member %d: %s", k, m[k].why);
    if (res->status == pattnSuccess) {
        /* With --backward the row's time is forward + backward, as in single-rank rows. */
        for (int i = 0; i < opts->iters; ++i)
            bwd[i] += c->backward ? fwd[i] : 0;
        res->min_ms = INFINITY;
        for (int i = 0; i < opts->iters; ++i)
            res->min_ms = fmin(res->min_ms, c->backward ? bwd[i] : fwd[i]);
        res->median_ms = median(c->backward ? bwd : fwd, opts->iters);
        const pattn_ring_profile_t *pr = &m[0].profile;
        double compute = 0, hop = 0, bytes = 0;
        for (int t = 0; t < pr->steps; ++t) {
            compute += pr->compute_ms[t];
            hop += pr->hop_ms[t];
            bytes += pr->hop_bytes[t];
        }
        res->ring_steps = pr->steps;
        res->ring_compute_ms = compute;
        res->ring_hop_ms = hop;
        res->ring_bytes = bytes;
        const double exposed = fmax(0.0, pr->total_ms - compute);
        res->ring_hidden = hop > 0 ? fmax(0.0, fmin(1.0, 1.0 - exposed / hop)) : NAN;
    }
    free(fwd);
    free(bwd);
}
