/*
 * run.c: running one case on one backend (run.h). Each ring (or single pipeline) of the case
 * is prepared member by member -- parameters, shapes, poisoned outputs, arrays in the
 * backend's memory space -- then called through the public API, then collected.
 */
#define _POSIX_C_SOURCE 200809L
#include "run.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dtype.h"
#include "memspace.h"

/* NaN bit patterns that a computation does not produce by accident. */
#define POISON_F32 0x7fbadbadu
#define POISON_FP16 0x7dadu
#define POISON_BF16 0x7fadu
#define POISON_I64 ((int64_t)0x7fbadbad7fbadbadLL)

enum buffer { BUF_QKV, BUF_DOUT, BUF_OUT, BUF_LSE, BUF_SOFTMAX, BUF_DQKV, NUM_BUFFERS };
static const int BUFFER_IS_OUTPUT[NUM_BUFFERS] = {0, 0, 1, 1, 1, 1};
static const conf_output_t BUFFER_OUTPUT[NUM_BUFFERS] = {0, 0, CONF_OUT, CONF_LSE, CONF_SOFTMAX,
                                                         CONF_DQKV};

/* One ring member's arrays: host staging and their copies in the backend's memory. */
typedef struct member {
    int pipeline;
    pattnParams_t params;
    pattnShapes_t shapes;
    pattnDtype_t dtype[NUM_BUFFERS];
    int needed[NUM_BUFFERS];
    int64_t count[NUM_BUFFERS];
    void *host[NUM_BUFFERS];  /* inputs point into the case; outputs are owned */
    void *space[NUM_BUFFERS]; /* in the backend's memory space */
    int64_t rng_state[2];
} member_t;

static void poison(pattnDtype_t t, void *a, int64_t n)
{
    for (int64_t i = 0; i < n; ++i) {
        if (t == PATTN_FP32) {
            uint32_t bits = POISON_F32;
            memcpy((uint32_t *)a + i, &bits, 4);
        } else {
            ((uint16_t *)a)[i] = t == PATTN_FP16 ? POISON_FP16 : POISON_BF16;
        }
    }
}

static int is_poison(pattnDtype_t t, const void *a, int64_t i)
{
    if (t == PATTN_FP32) {
        uint32_t bits;
        memcpy(&bits, (const uint32_t *)a + i, 4);
        return bits == POISON_F32;
    }
    return ((const uint16_t *)a)[i] == (t == PATTN_FP16 ? POISON_FP16 : POISON_BF16);
}

static int64_t product(const int64_t *dims, int n)
{
    int64_t p = 1;
    for (int d = 0; d < n; ++d)
        p *= dims[d];
    return p;
}

static int member_prepare(const conf_case_t *c, int pipeline, const conf_memspace_t *ms,
                          member_t *m, conf_error_t *err)
{
    memset(m, 0, sizeof *m);
    m->pipeline = pipeline;
    if (case_params(c, pipeline, &m->params, err))
        return -1;
    if (pattnQueryShapes(&m->params, &m->shapes) != pattnSuccess)
        return conf_fail(err, "pipeline %d: the case's parameters are invalid: %s", pipeline,
                         pattnGetLastError());
    const conf_pipeline_t *pipe = &c->pipes[pipeline];
    pattnDtype_t dt = c->cfg.dtype;
    int64_t rows = pipe->rows, out_cols = m->shapes.out_cols;
    const pattnDtype_t dtypes[NUM_BUFFERS] = {dt, dt, dt, PATTN_FP32, PATTN_FP32, dt};
    const int needed[NUM_BUFFERS] = {1, c->cfg.backward, 1, 1, c->cfg.return_softmax,
                                     c->cfg.backward};
    const int64_t counts[NUM_BUFFERS] = {rows * pipe->cols, rows * out_cols, rows * out_cols,
                                         product(m->shapes.lse_dims, 3),
                                         product(m->shapes.softmax_dims, 4), rows * pipe->cols};
    m->host[BUF_QKV] = pipe->qkv;
    m->host[BUF_DOUT] = pipe->dout;
    m->rng_state[0] = m->rng_state[1] = POISON_I64;
    for (int b = 0; b < NUM_BUFFERS; ++b) {
        m->dtype[b] = dtypes[b];
        m->needed[b] = needed[b];
        m->count[b] = needed[b] ? counts[b] : 0;
        if (!needed[b])
            continue;
        size_t bytes = (size_t)m->count[b] * pattn_dtype_size(dtypes[b]);
        if (BUFFER_IS_OUTPUT[b]) {
            if (!(m->host[b] = malloc(bytes ? bytes : 1)))
                return conf_fail(err, "out of host memory (%zu bytes)", bytes);
            poison(dtypes[b], m->host[b], m->count[b]);
        }
        if (ms->alloc(&m->space[b], bytes, err) || ms->upload(m->space[b], m->host[b], bytes, err))
            return -1;
    }
    return 0;
}

static void member_release(member_t *m, const conf_memspace_t *ms)
{
    for (int b = 0; b < NUM_BUFFERS; ++b) {
        if (m->space[b])
            ms->release(m->space[b]);
        if (BUFFER_IS_OUTPUT[b])
            free(m->host[b]);
        m->space[b] = m->host[b] = NULL;
    }
}

static int tensor_alloc(conf_tensor_t *t, int ndim, const int64_t *shape, conf_error_t *err)
{
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    t->count = product(shape, ndim);
    t->values = malloc((size_t)(t->count ? t->count : 1) * sizeof *t->values);
    t->unwritten = calloc((size_t)(t->count ? t->count : 1), 1);
    if (!t->values || !t->unwritten)
        return conf_fail(err, "out of host memory for %lld output elements", (long long)t->count);
    t->present = 1;
    return 0;
}

/* Downloads member m's outputs and widens them into out. */
static int member_collect(member_t *m, const conf_memspace_t *ms, conf_outputs_t *out,
                          conf_error_t *err)
{
    const pattnShapes_t *s = &m->shapes;
    int64_t rows = m->params.rows;
    int64_t shapes[NUM_BUFFERS][4] = {{0}, {0}, {rows, s->out_cols},
                                      {0}, {0}, {rows, m->params.cols}};
    int ndims[NUM_BUFFERS] = {0, 0, 2, 3, 4, 2};
    memcpy(shapes[BUF_LSE], s->lse_dims, sizeof s->lse_dims);
    if (m->params.packing) { /* packed lse is (Hq, T) */
        shapes[BUF_LSE][0] = s->lse_dims[1];
        shapes[BUF_LSE][1] = s->lse_dims[2];
        ndims[BUF_LSE] = 2;
    }
    memcpy(shapes[BUF_SOFTMAX], s->softmax_dims, sizeof s->softmax_dims);
    for (int b = 0; b < NUM_BUFFERS; ++b) {
        if (!BUFFER_IS_OUTPUT[b] || !m->needed[b])
            continue;
        size_t bytes = (size_t)m->count[b] * pattn_dtype_size(m->dtype[b]);
        conf_tensor_t *t = &out->tensor[BUFFER_OUTPUT[b]];
        if (ms->download(m->host[b], m->space[b], bytes, err) ||
            tensor_alloc(t, ndims[b], shapes[b], err))
            return -1;
        for (int64_t i = 0; i < t->count; ++i) {
            t->unwritten[i] = (unsigned char)is_poison(m->dtype[b], m->host[b], i);
            t->values[i] = t->unwritten[i] ? NAN : pattn_load(m->dtype[b], m->host[b], i);
        }
    }
    const int64_t two = 2;
    conf_tensor_t *t = &out->tensor[CONF_RNG_STATE];
    if (tensor_alloc(t, 1, &two, err))
        return -1;
    for (int i = 0; i < 2; ++i) {
        out->rng_state[i] = m->rng_state[i];
        t->unwritten[i] = m->rng_state[i] == POISON_I64;
        t->values[i] = (double)m->rng_state[i];
    }
    return 0;
}

/* ---------------------------------------------------------------- calls */
static pattnResult_t call_forward(pattnHandle_t h, const conf_case_t *c, member_t *m, int n,
                                  pattnGenerator_t *gens)
{
    for (int k = 0; k < n; ++k)
        gens[k] = (pattnGenerator_t){c->cfg.rng_seed, c->cfg.rng_offset};
    if (n == 1)
        return pattnForward(h, &m[0].params, &gens[0], m[0].space[BUF_QKV], m[0].space[BUF_OUT],
                            m[0].space[BUF_LSE], m[0].rng_state, m[0].space[BUF_SOFTMAX]);
    const void *qkv[PATTN_MAX_RING];
    void *out[PATTN_MAX_RING];
    float *lse[PATTN_MAX_RING], *softmax[PATTN_MAX_RING];
    int64_t rng[2 * PATTN_MAX_RING];
    for (int k = 0; k < n; ++k) {
        qkv[k] = m[k].space[BUF_QKV];
        out[k] = m[k].space[BUF_OUT];
        lse[k] = m[k].space[BUF_LSE];
        softmax[k] = m[k].space[BUF_SOFTMAX];
        rng[2 * k] = rng[2 * k + 1] = POISON_I64;
    }
    pattnResult_t r = pattnForwardEmulated(&m[0].params, gens, qkv, out, lse, rng,
                                           c->cfg.return_softmax ? softmax : NULL, NULL);
    for (int k = 0; k < n; ++k)
        memcpy(m[k].rng_state, rng + 2 * k, sizeof m[k].rng_state);
    return r;
}

static pattnResult_t call_backward(pattnHandle_t h, member_t *m, int n)
{
    if (n == 1)
        return pattnBackward(h, &m[0].params, m[0].space[BUF_QKV], m[0].space[BUF_OUT],
                             m[0].space[BUF_LSE], m[0].rng_state, m[0].space[BUF_DOUT],
                             m[0].space[BUF_DQKV]);
    const void *qkv[PATTN_MAX_RING], *out[PATTN_MAX_RING], *dout[PATTN_MAX_RING];
    const float *lse[PATTN_MAX_RING];
    void *dqkv[PATTN_MAX_RING];
    int64_t rng[2 * PATTN_MAX_RING];
    for (int k = 0; k < n; ++k) {
        qkv[k] = m[k].space[BUF_QKV];
        out[k] = m[k].space[BUF_OUT];
        lse[k] = m[k].space[BUF_LSE];
        dout[k] = m[k].space[BUF_DOUT];
        dqkv[k] = m[k].space[BUF_DQKV];
        memcpy(rng + 2 * k, m[k].rng_state, sizeof m[k].rng_state);
    }
    return pattnBackwardEmulated(&m[0].params, qkv, out, lse, rng, dout, dqkv);
}

/* Records a failed API call: unsupported is a skip, anything else a failure. */
static void api_result(conf_run_t *run, pattnResult_t r, const char *call, int pipeline)
{
    run->status = r == pattnUnsupported ? CONF_RUN_SKIPPED : CONF_RUN_FAILED;
    snprintf(run->message, sizeof run->message, "%s (pipeline %d): %s: %s", call, pipeline,
             pattnGetErrorString(r), pattnGetLastError());
}

static void harness_failure(conf_run_t *run, const conf_error_t *err)
{
    run->status = CONF_RUN_FAILED;
    snprintf(run->message, sizeof run->message, "%s", err->text);
}

/* Ring members share B; each qkv file must hold B * L_k rows. */
static int check_members(const conf_case_t *c, const member_t *m, int n, conf_error_t *err)
{
    for (int k = 1; k < n; ++k)
        if (m[k].shapes.batch != m[0].shapes.batch)
            return conf_fail(err, "%s/qkv.%d.npy holds %lld samples (%lld rows of local length "
                             "%lld), but qkv.%d.npy holds %lld: ring members share B",
                             c->dir, m[k].pipeline, (long long)m[k].shapes.batch,
                             (long long)m[k].params.rows, (long long)m[k].shapes.local_len,
                             m[0].pipeline, (long long)m[0].shapes.batch);
    return 0;
}

/* The generator must have advanced by B * Hq * 32 (units: samples or packed sequences) when
 * p_dropout > 0, and not at all otherwise (SPEC section 4). */
static int check_generators(const conf_case_t *c, const member_t *m, int n,
                            const pattnGenerator_t *gens, conf_error_t *err)
{
    uint64_t step = c->cfg.p_dropout > 0
                        ? (uint64_t)(m[0].shapes.softmax_dims[0] * m[0].shapes.num_q_heads * 32)
                        : 0;
    for (int k = 0; k < n; ++k)
        if (gens[k].seed != c->cfg.rng_seed || gens[k].offset != c->cfg.rng_offset + step)
            return conf_fail(err, "generator of pipeline %d after the forward: {seed %llu, offset "
                             "%llu}, expected {%llu, %llu} (advance by units * Hq * 32 = %llu)",
                             m[k].pipeline, (unsigned long long)gens[k].seed,
                             (unsigned long long)gens[k].offset,
                             (unsigned long long)c->cfg.rng_seed,
                             (unsigned long long)(c->cfg.rng_offset + step),
                             (unsigned long long)step);
    return 0;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Runs the ring made of pipelines ids[0..n-1] (n == 1: one rank through the handle API). */
static void run_ring(const conf_case_t *c, const int *ids, int n, const conf_memspace_t *ms,
                     conf_run_t *run)
{
    member_t *m = calloc((size_t)n, sizeof *m);
    pattnHandle_t handle = NULL;
    conf_error_t err;
    pattnResult_t r;
    if (!m) {
        run->status = CONF_RUN_FAILED;
        snprintf(run->message, sizeof run->message, "out of host memory");
        return;
    }
    if (n == 1 && (r = pattnCreate(&handle, run->backend)) != pattnSuccess) {
        api_result(run, r, "pattnCreate", ids[0]);
        goto done;
    }
    for (int k = 0; k < n; ++k)
        if (member_prepare(c, ids[k], ms, &m[k], &err)) {
            harness_failure(run, &err);
            goto done;
        }
    if (check_members(c, m, n, &err)) {
        harness_failure(run, &err);
        goto done;
    }
    pattnGenerator_t gens[PATTN_MAX_RING];
    double t0 = now_seconds();
    if ((r = call_forward(handle, c, m, n, gens)) != pattnSuccess) {
        api_result(run, r, n == 1 ? "pattnForward" : "pattnForwardEmulated", ids[0]);
        goto done;
    }
    if (check_generators(c, m, n, gens, &err)) {
        harness_failure(run, &err);
        goto done;
    }
    if (c->cfg.backward && (r = call_backward(handle, m, n)) != pattnSuccess) {
        api_result(run, r, n == 1 ? "pattnBackward" : "pattnBackwardEmulated", ids[0]);
        if (r != pattnUnsupported)
            goto done;
        run->forward_only = 1; /* still collect (and so check) the forward's outputs */
        for (int k = 0; k < n; ++k)
            m[k].needed[BUF_DQKV] = 0;
    }
    for (int k = 0; k < n; ++k)
        if (member_collect(&m[k], ms, &run->outputs[ids[k]], &err)) {
            harness_failure(run, &err);
            goto done;
        }
    run->seconds += now_seconds() - t0;
done:
    for (int k = 0; k < n; ++k)
        member_release(&m[k], ms);
    free(m);
    if (handle)
        pattnDestroy(handle);
}

/* ---------------------------------------------------------------- the GPU ring */
const char *conf_ring_transport = "auto";

/* One ring member on its own thread and device: prepare, forward (and backward), collect. */
typedef struct member_task {
    const conf_case_t *c;
    const conf_memspace_t *ms;
    member_t *m;
    conf_outputs_t *outputs;
    pattnComm_t comm;
    int device;
    pattnGenerator_t gen;
    pattnResult_t r;
    const char *call; /* the API call that failed */
    int harness_failed, forward_only;
    conf_error_t err;
} member_task_t;

static void *member_main(void *arg)
{
    member_task_t *t = arg;
    member_t *m = t->m;
    pattnHandle_t h = NULL;
    t->r = pattnSuccess;
    if (t->ms->use_device(t->device, &t->err) || member_prepare(t->c, m->pipeline, t->ms, m, &t->err)) {
        t->harness_failed = 1;
        return NULL;
    }
    t->call = "pattnCreate";
    if ((t->r = pattnCreate(&h, PATTN_BACKEND_CUDA)) != pattnSuccess ||
        (t->r = pattnSetComm(h, t->comm)) != pattnSuccess)
        goto done;
    t->gen = (pattnGenerator_t){t->c->cfg.rng_seed, t->c->cfg.rng_offset};
    t->call = "pattnForward";
    t->r = pattnForward(h, &m->params, &t->gen, m->space[BUF_QKV], m->space[BUF_OUT],
                        m->space[BUF_LSE], m->rng_state, m->space[BUF_SOFTMAX]);
    if (t->r == pattnSuccess && t->c->cfg.backward) {
        t->call = "pattnBackward";
        t->r = pattnBackward(h, &m->params, m->space[BUF_QKV], m->space[BUF_OUT], m->space[BUF_LSE],
                             m->rng_state, m->space[BUF_DOUT], m->space[BUF_DQKV]);
        if (t->r == pattnUnsupported) {
            t->forward_only = 1;
            m->needed[BUF_DQKV] = 0;
        }
    }
    if (t->r == pattnSuccess || t->forward_only)
        t->harness_failed = member_collect(m, t->ms, t->outputs, &t->err) != 0;
done:
    if (t->r != pattnSuccess)
        snprintf(t->err.text, sizeof t->err.text, "%s: %s", pattnGetErrorString(t->r),
                 pattnGetLastError());
    if (h)
        pattnDestroy(h);
    return NULL;
}

/* NCCL's init is collective: every rank of the world on its own thread. */
typedef struct init_task {
    const conf_memspace_t *ms;
    int rank, nranks, device;
    const pattnUniqueId_t *id;
    pattnComm_t *comm;
    pattnResult_t r;
    char why[512];
} init_task_t;

static void *init_main(void *arg)
{
    init_task_t *t = arg;
    conf_error_t err;
    t->r = t->ms->use_device(t->device, &err) ? pattnCudaError
                                              : pattnCommInitRank(t->comm, t->nranks, t->id, t->rank);
    if (t->r != pattnSuccess)
        snprintf(t->why, sizeof t->why, "%s", pattnGetLastError());
    return NULL;
}

static int make_nccl_world(int nranks, const conf_memspace_t *ms, pattnComm_t *comms,
                           const int *devices, conf_error_t *err)
{
    pattnUniqueId_t id;
    if (pattnGetUniqueId(&id) != pattnSuccess)
        return conf_fail(err, "pattnGetUniqueId: %s", pattnGetLastError());
    init_task_t t[PATTN_MAX_RING];
    pthread_t th[PATTN_MAX_RING];
    for (int r = 0; r < nranks; ++r) {
        t[r] = (init_task_t){ms, r, nranks, devices[r], &id, &comms[r], pattnSuccess, ""};
        pthread_create(&th[r], NULL, init_main, &t[r]);
    }
    int failed = -1;
    for (int r = 0; r < nranks; ++r) {
        pthread_join(th[r], NULL);
        if (t[r].r != pattnSuccess && failed < 0)
            failed = r;
    }
    if (failed >= 0)
        return conf_fail(err, "pattnCommInitRank (rank %d): %s", failed, t[failed].why);
    return 0;
}

/* The world's communicators: NCCL with one GPU per pipeline when asked (or, for "auto", when
 * the machine has them and NCCL loads), else the local transport on the GPUs there are. */
static int make_world(int nranks, const conf_memspace_t *ms, pattnComm_t *comms, int *devices,
                      char transport[16], conf_error_t *err)
{
    const int gpus = ms->devices();
    for (int r = 0; r < nranks; ++r)
        devices[r] = gpus > 0 ? r % gpus : 0;
    pattnUniqueId_t probe;
    const int nccl = !strcmp(conf_ring_transport, "nccl") ||
                     (!strcmp(conf_ring_transport, "auto") && gpus >= nranks &&
                      pattnGetUniqueId(&probe) == pattnSuccess);
    snprintf(transport, 16, "%s", nccl ? "nccl" : "local");
    if (!nccl)
        return pattnCommInitLocal(comms, nranks, devices) == pattnSuccess
                   ? 0
                   : conf_fail(err, "pattnCommInitLocal: %s", pattnGetLastError());
    if (gpus < nranks)
        return conf_fail(err, "--transport nccl needs a GPU per pipeline: %d pipelines, %d GPUs",
                         nranks, gpus);
    return make_nccl_world(nranks, ms, comms, devices, err);
}

/* Runs the ring of pipelines ids[0..n-1] on the GPU ring, one thread per member. */
static void run_gpu_ring(const conf_case_t *c, const int *ids, int n, const conf_memspace_t *ms,
                         conf_run_t *run)
{
    const int nranks = c->cfg.num_pipelines;
    pattnComm_t comms[PATTN_MAX_RING] = {0};
    int devices[PATTN_MAX_RING];
    member_t *m = calloc((size_t)n, sizeof *m);
    member_task_t *tasks = calloc((size_t)n, sizeof *tasks);
    pthread_t th[PATTN_MAX_RING];
    conf_error_t err;
    if (!m || !tasks || nranks > PATTN_MAX_RING) {
        snprintf(err.text, sizeof err.text, "the GPU ring runner: out of host memory or more than "
                                            "%d pipelines", PATTN_MAX_RING);
        harness_failure(run, &err);
        goto done;
    }
    if (make_world(nranks, ms, comms, devices, run->transport, &err)) {
        harness_failure(run, &err);
        goto done;
    }
    double t0 = now_seconds();
    for (int k = 0; k < n; ++k) {
        m[k].pipeline = ids[k];
        memset(&tasks[k], 0, sizeof tasks[k]);
        tasks[k].c = c;
        tasks[k].ms = ms;
        tasks[k].m = &m[k];
        tasks[k].outputs = &run->outputs[ids[k]];
        tasks[k].comm = comms[ids[k]];
        tasks[k].device = devices[ids[k]];
        pthread_create(&th[k], NULL, member_main, &tasks[k]);
    }
    for (int k = 0; k < n; ++k)
        pthread_join(th[k], NULL);
    run->seconds += now_seconds() - t0;
    for (int k = 0; k < n && run->status == CONF_RUN_OK; ++k) {
        if (tasks[k].harness_failed)
            harness_failure(run, &tasks[k].err);
        else if (tasks[k].r != pattnSuccess && !tasks[k].forward_only)
            api_result(run, tasks[k].r, tasks[k].call, ids[k]);
    }
    pattnGenerator_t gens[PATTN_MAX_RING];
    for (int k = 0; k < n; ++k)
        gens[k] = tasks[k].gen;
    if (run->status == CONF_RUN_OK && check_members(c, m, n, &err))
        harness_failure(run, &err);
    if (run->status == CONF_RUN_OK && check_generators(c, m, n, gens, &err))
        harness_failure(run, &err);
    for (int k = 0; k < n && run->status == CONF_RUN_OK; ++k)
        if (tasks[k].forward_only) {
            api_result(run, pattnUnsupported, tasks[k].call, ids[k]);
            run->forward_only = 1;
        }
done:
    for (int k = 0; m && k < n; ++k) {
        conf_error_t e2;
        if (ms->use_device(devices[ids[k]], &e2) == 0)
            member_release(&m[k], ms);
    }
    for (int r = 0; r < nranks && r < PATTN_MAX_RING; ++r)
        pattnCommDestroy(comms[r]);
    free(m);
    free(tasks);
}

static void skip(conf_run_t *run, const char *why)
{
    run->status = CONF_RUN_SKIPPED;
    snprintf(run->message, sizeof run->message, "%s", why);
}

void run_case(const conf_case_t *c, pattnBackend_t backend, conf_run_t *run)
{
    memset(run, 0, sizeof *run);
    run->backend = backend;
    run->status = CONF_RUN_OK;
    run->num_pipelines = c->cfg.num_pipelines;
    const conf_memspace_t *ms = memspace_for(backend);
    conf_error_t why;
    if (!ms) {
        snprintf(why.text, sizeof why.text, "this build has no %s backend",
                 pattnBackendName(backend));
        skip(run, why.text);
        return;
    }
    if (ms->available(&why)) {
        skip(run, why.text);
        return;
    }
    if (!(run->outputs = calloc((size_t)c->cfg.num_pipelines, sizeof *run->outputs))) {
        run->status = CONF_RUN_FAILED;
        snprintf(run->message, sizeof run->message, "out of host memory");
        return;
    }
    int ids[PATTN_MAX_RING];
    for (int p = 0; p < c->cfg.num_pipelines && run->status == CONF_RUN_OK && !run->forward_only;
         ++p) {
        int n = case_ring_members(&c->cfg, p, ids);
        if (!c->pipes[p].present || ids[0] != p) /* each ring once, from its first member */
            continue;
        if (n > 1 && backend != PATTN_BACKEND_REFERENCE)
            run_gpu_ring(c, ids, n, ms, run);
        else
            run_ring(c, ids, n, ms, run);
    }
}

void run_free(conf_run_t *run)
{
    for (int p = 0; run->outputs && p < run->num_pipelines; ++p)
        for (int w = 0; w < CONF_NUM_OUTPUTS; ++w) {
            free(run->outputs[p].tensor[w].values);
            free(run->outputs[p].tensor[w].unwritten);
        }
    free(run->outputs);
    run->outputs = NULL;
}
