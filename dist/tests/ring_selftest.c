/*
 * ring_selftest.c: checks of the GPU ring (dist/) that the golden cases do not reach, on a
 * machine with a GPU (exit 77 = skipped when there is none); one thread per ring member:
 *   agree     a 3-member ring (sym split, uneven, GQA r = 2 Hkv = 2, causal, dropout) over the
 *             local transport against the reference's emulated ring, forward and backward, and
 *             its backward run again: bit-identical dqkv (the deterministic ring order);
 *   nccl      a one-member ring over NCCL (a world of one rank: its records go through
 *             ncclSend/ncclRecv to itself) against the same call without a communicator;
 *             skipped with a reason where NCCL does not load; and a 2-member ring over NCCL where
 *             the machine has 2 GPUs;
 *   lost      a 2-member ring whose member 1 never calls: member 0 returns pattnTimeout within
 *             its timeout, its communicator refuses the next ring call at once, and the handle
 *             still runs a single-rank call;
 *   mismatch  member 1 passes another generator state: both members fail with pattnMismatch.
 * Usage: ring-selftest
 */
#define _POSIX_C_SOURCE 200809L
#include <cuda_runtime_api.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dtype.h"
#include "exit_on_cuda_error.h"
#include "selftest_util.h"
#include "tolerance.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---------------------------------------------------------------- a ring problem */

#define MAXN 4

typedef struct ring {
    int n;
    int64_t seq_lens[MAXN], cp_groups[MAXN];
    pattnParams_t params[MAXN]; /* member k's (pipeline k) */
    size_t qkv_bytes[MAXN], out_bytes[MAXN], lse_count[MAXN];
    void *qkv[MAXN], *out[MAXN], *dout[MAXN], *dqkv[MAXN];
    float *lse[MAXN];
    int64_t rng_state[MAXN][2];
} ring_t;

static void ring_init(ring_t *g, int n, const int64_t *lens, pattnDtype_t dtype, int D, int r,
                      int hkv, int causal, double p, pattnSplit_t split)
{
    memset(g, 0, sizeof *g);
    g->n = n;
    for (int k = 0; k < n; ++k)
        g->seq_lens[k] = lens[k];
    const int64_t cols = (int64_t)(r + 2) * hkv * D, out_cols = (int64_t)r * hkv * D;
    for (int k = 0; k < n; ++k) {
        pattnParams_t pr = PATTN_PARAMS_INIT;
        pr.dtype = dtype;
        pr.head_dim = D;
        pr.group_query_ratio = r;
        pr.cols = cols;
        pr.num_strategies = 1;
        pr.num_pipelines = n;
        pr.seq_lens = g->seq_lens;
        pr.cp_groups = g->cp_groups;
        pr.pipeline = k;
        pr.split = split;
        pr.rows = lens[k];
        pr.is_causal = causal;
        pr.p_dropout = p;
        g->params[k] = pr;
        g->qkv_bytes[k] = (size_t)(lens[k] * cols) * pattn_dtype_size(dtype);
        g->out_bytes[k] = (size_t)(lens[k] * out_cols) * pattn_dtype_size(dtype);
        g->lse_count[k] = (size_t)(lens[k] * r * hkv);
        g->qkv[k] = xcalloc(g->qkv_bytes[k]);
        g->dout[k] = xcalloc(g->out_bytes[k]);
        g->out[k] = xcalloc(g->out_bytes[k]);
        g->dqkv[k] = xcalloc(g->qkv_bytes[k]);
        g->lse[k] = xcalloc(sizeof(float) * g->lse_count[k]);
        for (int64_t i = 0; i < lens[k] * cols; ++i)
            pattn_store(dtype, g->qkv[k], i, (float)(4 * uniform() - 2));
        for (int64_t i = 0; i < lens[k] * out_cols; ++i)
            pattn_store(dtype, g->dout[k], i, (float)(2 * uniform() - 1));
    }
}

static void ring_free(ring_t *g)
{
    for (int k = 0; k < g->n; ++k) {
        free(g->qkv[k]);
        free(g->dout[k]);
        free(g->out[k]);
        free(g->dqkv[k]);
        free(g->lse[k]);
    }
}

/* The reference's emulated ring: out, lse, rng_state and dqkv of every member, on the host. */
static void reference_ring(ring_t *g, pattnGenerator_t gen)
{
    pattnGenerator_t gens[MAXN];
    for (int k = 0; k < g->n; ++k)
        gens[k] = gen;
    pattnResult_t r = pattnForwardEmulated(&g->params[0], gens, (const void *const *)g->qkv,
                                           g->out, g->lse, &g->rng_state[0][0], NULL, NULL);
    if (r == pattnSuccess)
        r = pattnBackwardEmulated(&g->params[0], (const void *const *)g->qkv,
                                  (const void *const *)g->out, (const float *const *)g->lse,
                                  &g->rng_state[0][0], (const void *const *)g->dout, g->dqkv);
    if (r != pattnSuccess) {
        fprintf(stderr, "reference ring: %s: %s\n", pattnGetErrorString(r), pattnGetLastError());
        exit(1);
    }
}

/* ---------------------------------------------------------------- one member on its thread */

typedef struct member {
    const ring_t *g;
    int k;
    pattnComm_t comm;
    pattnGenerator_t gen;
    double timeout;
    int backward, runs;  /* runs > 1: the backward repeated, dqkv compared bit for bit */
    pattnResult_t r;
    char why[600];
    double seconds;
    void *out, *dqkv;    /* host copies of the results */
    float *lse;
    int reruns_differ;
} member_t;

static void *member_main(void *arg)
{
    member_t *m = arg;
    const ring_t *g = m->g;
    const int k = m->k;
    void *qkv, *out, *dout, *dqkv;
    float *lse;
    int64_t rs[2];
    EXIT_ON_CUDA_ERROR(cudaMalloc(&qkv, g->qkv_bytes[k] + 16));
    EXIT_ON_CUDA_ERROR(cudaMalloc(&dqkv, g->qkv_bytes[k] + 16));
    EXIT_ON_CUDA_ERROR(cudaMalloc(&out, g->out_bytes[k] + 16));
    EXIT_ON_CUDA_ERROR(cudaMalloc(&dout, g->out_bytes[k] + 16));
    EXIT_ON_CUDA_ERROR(cudaMalloc((void **)&lse, sizeof(float) * g->lse_count[k] + 16));
    EXIT_ON_CUDA_ERROR(cudaMemcpy(qkv, g->qkv[k], g->qkv_bytes[k], cudaMemcpyHostToDevice));
    EXIT_ON_CUDA_ERROR(cudaMemcpy(dout, g->dout[k], g->out_bytes[k], cudaMemcpyHostToDevice));
    pattnHandle_t h;
    m->r = pattnCreate(&h, PATTN_BACKEND_CUDA);
    if (m->r == pattnSuccess && m->comm)
        m->r = pattnSetComm(h, m->comm);
    if (m->r == pattnSuccess)
        m->r = pattnSetTimeout(h, m->timeout);
    const double t0 = now();
    if (m->r == pattnSuccess)
        m->r = pattnForward(h, &g->params[k], &m->gen, qkv, out, lse, rs, NULL);
    void *first = NULL;
    for (int i = 0; m->backward && m->r == pattnSuccess && i < m->runs; ++i) {
        m->r = pattnBackward(h, &g->params[k], qkv, out, lse, rs, dout, dqkv);
        if (m->r != pattnSuccess)
            break;
        void *got = xcalloc(g->qkv_bytes[k]);
        EXIT_ON_CUDA_ERROR(cudaMemcpy(got, dqkv, g->qkv_bytes[k], cudaMemcpyDeviceToHost));
        if (!first)
            first = got;
        else {
            m->reruns_differ += memcmp(first, got, g->qkv_bytes[k]) != 0;
            free(got);
        }
    }
    m->seconds = now() - t0;
    if (m->r != pattnSuccess)
        snprintf(m->why, sizeof m->why, "%s: %s", pattnGetErrorString(m->r), pattnGetLastError());
    m->out = xcalloc(g->out_bytes[k]);
    m->lse = xcalloc(sizeof(float) * g->lse_count[k]);
    if (m->r == pattnSuccess) {
        EXIT_ON_CUDA_ERROR(cudaMemcpy(m->out, out, g->out_bytes[k], cudaMemcpyDeviceToHost));
        EXIT_ON_CUDA_ERROR(
            cudaMemcpy(m->lse, lse, sizeof(float) * g->lse_count[k], cudaMemcpyDeviceToHost));
    }
    m->dqkv = first ? first : xcalloc(g->qkv_bytes[k]);
    pattnDestroy(h);
    EXIT_ON_CUDA_ERROR(cudaFree(qkv));
    EXIT_ON_CUDA_ERROR(cudaFree(dqkv));
    EXIT_ON_CUDA_ERROR(cudaFree(out));
    EXIT_ON_CUDA_ERROR(cudaFree(dout));
    EXIT_ON_CUDA_ERROR(cudaFree(lse));
    return NULL;
}

/* Runs members ks[0..count) of ring g on their own threads (comms[k] each). */
static void run_members(const ring_t *g, pattnComm_t *comms, const int *ks, int count,
                        pattnGenerator_t gen, double timeout, int backward, int runs, member_t *m)
{
    pthread_t th[MAXN];
    for (int i = 0; i < count; ++i) {
        m[i] = (member_t){.g = g, .k = ks[i], .comm = comms ? comms[ks[i]] : NULL, .gen = gen,
                          .timeout = timeout, .backward = backward, .runs = runs};
        pthread_create(&th[i], NULL, member_main, &m[i]);
    }
    for (int i = 0; i < count; ++i)
        pthread_join(th[i], NULL);
}

static void free_member(member_t *m)
{
    free(m->out);
    free(m->dqkv);
    free(m->lse);
}

/* Bad elements of got against want (both of dtype t), |got - want| <= atol + rtol |want|. */
static int64_t bad_elements(pattnDtype_t t, const void *got, const void *want, int64_t n,
                            double atol, double rtol)
{
    int64_t bad = 0;
    for (int64_t i = 0; i < n; ++i) {
        const double a = pattn_load(t, got, i), b = pattn_load(t, want, i);
        bad += !(fabs(a - b) <= atol + rtol * fabs(b));
    }
    return bad;
}

static int64_t bad_lse(const float *got, const float *want, int64_t n, double atol)
{
    int64_t bad = 0;
    for (int64_t i = 0; i < n; ++i)
        bad += isinf(want[i]) ? !(isinf(got[i]) && got[i] < 0) : !(fabs(got[i] - want[i]) <= atol);
    return bad;
}

/* ---------------------------------------------------------------- the checks */

static void test_agree(void)
{
    const int64_t lens[3] = {301, 256, 417};
    ring_t g;
    ring_init(&g, 3, lens, PATTN_BF16, 64, 2, 2, 1, 0.1, PATTN_SPLIT_SYM);
    for (int k = 0; k < 3; ++k)
        g.params[k].deterministic = 1; /* the reruns are compared bit for bit */
    const pattnGenerator_t gen = {77, 123};
    reference_ring(&g, gen);
    pattnComm_t comms[3];
    if (pattnCommInitLocal(comms, 3, NULL) != pattnSuccess) {
        record(0, "agree    pattnCommInitLocal: %s", pattnGetLastError());
        return;
    }
    member_t m[3];
    const int ks[3] = {0, 1, 2};
    run_members(&g, comms, ks, 3, gen, 60, 1, 3, m);
    const conf_tolerance_t tol = tolerance_default(PATTN_BF16, 0.1);
    for (int k = 0; k < 3; ++k) {
        const int64_t out_n = lens[k] * 4 * 64, qkv_n = lens[k] * 8 * 64;
        const int64_t bo = m[k].r ? -1 : bad_elements(PATTN_BF16, m[k].out, g.out[k], out_n, tol.atol_out, tol.rtol_out);
        const int64_t bl = m[k].r ? -1 : bad_lse(m[k].lse, g.lse[k], (int64_t)g.lse_count[k], tol.atol_lse);
        const int64_t bg = m[k].r ? -1 : bad_elements(PATTN_BF16, m[k].dqkv, g.dqkv[k], qkv_n, tol.atol_dqkv, tol.rtol_dqkv);
        record(m[k].r == pattnSuccess && bo == 0 && bl == 0 && bg == 0 && m[k].reruns_differ == 0,
               "agree    member %d of a 3-ring (local, sym, causal, dropout): bad out %lld, lse "
               "%lld, dqkv %lld; %d of 2 backward reruns differ %s",
               k, (long long)bo, (long long)bl, (long long)bg, m[k].reruns_differ, m[k].why);
        free_member(&m[k]);
    }
    for (int k = 0; k < 3; ++k)
        pattnCommDestroy(comms[k]);
    ring_free(&g);
}

static void test_nccl(void)
{
    pattnUniqueId_t id;
    if (pattnGetUniqueId(&id) != pattnSuccess) {
        printf("skip nccl: %s\n", pattnGetLastError());
        return;
    }
    const int64_t lens[1] = {700};
    ring_t g;
    ring_init(&g, 1, lens, PATTN_FP16, 128, 2, 2, 1, 0.0, PATTN_SPLIT_CONTIGUOUS);
    pattnComm_t comm;
    pattnResult_t r = pattnCommInitRank(&comm, 1, &id, 0);
    if (r != pattnSuccess) {
        record(0, "nccl     pattnCommInitRank (1 rank): %s", pattnGetLastError());
        ring_free(&g);
        return;
    }
    const int k0 = 0;
    const pattnGenerator_t gen = {5, 0};
    member_t with, without;
    run_members(&g, &comm, &k0, 1, gen, 60, 1, 1, &with);
    run_members(&g, NULL, &k0, 1, gen, 60, 1, 1, &without);
    const conf_tolerance_t tol = tolerance_default(PATTN_FP16, 0);
    const int64_t bo = bad_elements(PATTN_FP16, with.out, without.out, 700 * 4 * 128, tol.atol_out, tol.rtol_out);
    const int64_t bg = bad_elements(PATTN_FP16, with.dqkv, without.dqkv, 700 * 8 * 128, tol.atol_dqkv, tol.rtol_dqkv);
    record(with.r == pattnSuccess && without.r == pattnSuccess && bo == 0 && bg == 0,
           "nccl     a one-member ring over NCCL (%s) against no communicator: bad out %lld, "
           "dqkv %lld %s%s",
           pattnCommTransport(comm), (long long)bo, (long long)bg, with.why, without.why);
    free_member(&with);
    free_member(&without);
    pattnCommDestroy(comm);
    ring_free(&g);
}

static void test_lost(void)
{
    const int64_t lens[2] = {128, 128};
    ring_t g;
    ring_init(&g, 2, lens, PATTN_BF16, 64, 1, 1, 1, 0.0, PATTN_SPLIT_CONTIGUOUS);
    pattnComm_t comms[2];
    if (pattnCommInitLocal(comms, 2, NULL) != pattnSuccess) {
        record(0, "lost     pattnCommInitLocal: %s", pattnGetLastError());
        return;
    }
    const int only0 = 0;
    member_t m;
    run_members(&g, comms, &only0, 1, (pattnGenerator_t){1, 0}, 2.0, 0, 1, &m);
    record(m.r == pattnTimeout && m.seconds < 10.0,
           "lost     member 1 never calls: member 0 returns %s after %.2f s (timeout 2 s): %s",
           pattnGetErrorString(m.r), m.seconds, m.why);
    free_member(&m);
    run_members(&g, comms, &only0, 1, (pattnGenerator_t){1, 0}, 2.0, 0, 1, &m);
    record(m.r != pattnSuccess && m.seconds < 1.0,
           "lost     the broken communicator refuses the next ring call at once (%.3f s): %s",
           m.seconds, m.why);
    free_member(&m);
    /* The same handle setup without a communicator: a single-rank problem still runs. */
    const int64_t one[1] = {128};
    ring_t single;
    ring_init(&single, 1, one, PATTN_BF16, 64, 1, 1, 1, 0.0, PATTN_SPLIT_CONTIGUOUS);
    run_members(&single, NULL, &only0, 1, (pattnGenerator_t){1, 0}, 2.0, 0, 1, &m);
    record(m.r == pattnSuccess, "lost     a single-rank call still runs afterwards %s", m.why);
    free_member(&m);
    ring_free(&single);
    pattnCommDestroy(comms[0]);
    pattnCommDestroy(comms[1]);
    ring_free(&g);
}

/* Member 1 with another generator offset: its own thread, its own generator. */
static void test_mismatch(void)
{
    const int64_t lens[2] = {96, 160};
    ring_t g;
    ring_init(&g, 2, lens, PATTN_FP16, 64, 2, 1, 0, 0.2, PATTN_SPLIT_CONTIGUOUS);
    pattnComm_t comms[2];
    if (pattnCommInitLocal(comms, 2, NULL) != pattnSuccess) {
        record(0, "mismatch pattnCommInitLocal: %s", pattnGetLastError());
        return;
    }
    member_t m[2];
    pthread_t th[2];
    for (int k = 0; k < 2; ++k) {
        m[k] = (member_t){.g = &g, .k = k, .comm = comms[k], .gen = {9, k == 1 ? 64u : 0u},
                          .timeout = 10.0, .runs = 1};
        pthread_create(&th[k], NULL, member_main, &m[k]);
    }
    for (int k = 0; k < 2; ++k)
        pthread_join(th[k], NULL);
    for (int k = 0; k < 2; ++k) {
        record(m[k].r == pattnMismatch && strstr(m[k].why, "member 1") != NULL,
               "mismatch member %d: %s", k, m[k].why);
        free_member(&m[k]);
    }
    pattnCommDestroy(comms[0]);
    pattnCommDestroy(comms[1]);
    ring_free(&g);
}

int main(void)
{
    rng_state = 20261201;
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
        printf("ring-selftest: no GPU visible, skipped\n");
        return SKIP;
    }
    test_agree();
    test_nccl();
    test_lost();
    test_mismatch();
    printf("ring-selftest: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
