/*
 * ring.c: the parts of a member's ring call that the forward and the backward share (ring.h):
 * checking the communicator, the members' agreement, the K/V buffers and their hops, and the
 * end of a call that cannot hang.
 */
#include "ring.h"

#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "dtype.h"

#define RING_MAGIC 0x70617474726e6731ull /* "pattrng1" */

/* FNV-1a over the words of the parameters. */
static uint64_t mix(uint64_t h, uint64_t x)
{
    for (int i = 0; i < 8; ++i) {
        h ^= (x >> (8 * i)) & 0xffu;
        h *= 0x100000001b3ull;
    }
    return h;
}

uint64_t pattn_ring_digest(const pattn_problem_t *p)
{
    uint64_t h = 0xcbf29ce484222325ull, scale_bits = 0, p_bits;
    float scale = p->scale;
    double pd = p->p_dropout;
    memcpy(&scale_bits, &scale, sizeof scale);
    memcpy(&p_bits, &pd, sizeof p_bits);
    const int64_t words[] = {p->dtype, p->D,       p->r,           p->Hq,        p->Hkv,
                             p->B,     p->packing, p->P,           p->is_causal, p->return_softmax,
                             p->n,     p->split,   p->deterministic};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; ++i)
        h = mix(h, (uint64_t)words[i]);
    h = mix(mix(h, scale_bits), p_bits);
    for (int m = 0; m < p->n; ++m) {
        h = mix(mix(h, (uint64_t)p->pipelines[m]), (uint64_t)p->L[m]);
        for (int u = 0; p->packing && u <= p->P; ++u)
            h = mix(mix(h, (uint64_t)p->cu_q[m][u]), (uint64_t)p->cu_k[m][u]);
    }
    return h;
}

static _Thread_local int profile_on;
static _Thread_local pattn_ring_profile_t last_profile;

void pattn_ring_profile_enable(int on) { profile_on = on; }
const pattn_ring_profile_t *pattn_ring_last_profile(void) { return &last_profile; }

/* Records ev (profiling only) on stream; ev is created on first use. */
static pattnResult_t mark(const pattn_ring_t *rg, cudaEvent_t *ev, cudaStream_t stream)
{
    if (!rg->profile)
        return pattnSuccess;
    if (!*ev)
        CUDA_CHECK(cudaEventCreate(ev));
    CUDA_CHECK(cudaEventRecord(*ev, stream));
    return pattnSuccess;
}

pattnResult_t pattn_ring_group(pattn_ring_t *rg, int t, const pattn_xfer_t *x, int count)
{
    cudaStream_t c = rg->comm->stream;
    const int g = rg->hops;
    const int timed = rg->profile && t >= 0 && g < 2 * PATTN_MAX_RING;
    pattnResult_t r = timed ? mark(rg, &rg->hop_start[g], c) : pattnSuccess;
    if (r == pattnSuccess)
        r = rg->comm->ops->group(rg->comm, x, count, c, rg->timeout);
    if (r == pattnSuccess && timed) {
        rg->hop_step[g] = t;
        for (int i = 0; i < count; ++i)
            rg->hop_bytes[g] += x[i].send ? (double)x[i].bytes : 0.0;
        rg->hops = g + 1;
        r = mark(rg, &rg->hop_end[g], c);
    }
    return r;
}

/* The profile of a finished call (its streams drained). */
static void keep_profile(pattn_ring_t *rg)
{
    pattn_ring_profile_t pr = {.steps = rg->steps_run};
    float ms;
    for (int t = 0; t < rg->steps_run; ++t)
        if (cudaEventElapsedTime(&ms, rg->step_start[t], rg->step_end[t]) == cudaSuccess)
            pr.compute_ms[t] = ms;
    for (int g = 0; g < rg->hops; ++g) {
        if (cudaEventElapsedTime(&ms, rg->hop_start[g], rg->hop_end[g]) == cudaSuccess)
            pr.hop_ms[rg->hop_step[g]] += ms;
        pr.hop_bytes[rg->hop_step[g]] += rg->hop_bytes[g];
    }
    if (rg->steps_run &&
        cudaEventElapsedTime(&ms, rg->step_start[0], rg->step_end[rg->steps_run - 1]) == cudaSuccess)
        pr.total_ms = ms;
    cudaGetLastError();
    last_profile = pr;
}

/* Every member sends its record to every member (itself included) and compares what it
 * receives, so all members reach the same verdict. */
static pattnResult_t handshake(pattn_ring_t *rg, const pattn_ring_record_t *mine, void *dev)
{
    const pattn_problem_t *p = rg->p;
    const size_t rec = sizeof *mine;
    pattn_ring_record_t *all = malloc(rec * (size_t)(p->n + 1));
    if (!all)
        return pattn_error(pattnSystemError, "ring: out of host memory");
    pattn_xfer_t x[2 * PATTN_MAX_RING];
    int count = 0;
    pattnResult_t r = pattnSuccess;
    cudaError_t e = cudaMemcpyAsync(dev, mine, rec, cudaMemcpyHostToDevice, rg->comm->stream);
    for (int m = 0; e == cudaSuccess && m < p->n; ++m)
        x[count++] = (pattn_xfer_t){p->pipelines[m], 1, dev, rec};
    for (int m = 0; e == cudaSuccess && m < p->n; ++m)
        x[count++] = (pattn_xfer_t){p->pipelines[m], 0, (char *)dev + rec * (m + 1), rec};
    if (e != cudaSuccess)
        r = pattn_error(pattnCudaError, "ring: record upload: %s", cudaGetErrorString(e));
    if (r == pattnSuccess)
        r = pattn_ring_group(rg, -1, x, count);
    if (r == pattnSuccess)
        r = rg->comm->ops->wait(rg->comm, rg->comm->stream, rg->timeout);
    if (r == pattnSuccess &&
        (e = cudaMemcpy(all, (char *)dev + rec, rec * (size_t)p->n, cudaMemcpyDeviceToHost)) !=
            cudaSuccess)
        r = pattn_error(pattnCudaError, "ring: record download: %s", cudaGetErrorString(e));
    for (int m = 1; r == pattnSuccess && m < p->n; ++m) {
        const pattn_ring_record_t *a = &all[0], *b = &all[m];
        if (b->magic != RING_MAGIC || b->backward != a->backward)
            r = pattn_error(pattnMismatch,
                            "ring member %d (pipeline %d) is not in the same call as member 0: it "
                            "runs a %s",
                            m, p->pipelines[m], b->backward ? "backward" : "forward");
        else if (b->problem != a->problem)
            r = pattn_error(pattnMismatch,
                            "ring member %d (pipeline %d) passed other parameters than member 0 "
                            "(pipeline %d): shapes, lengths, cu_seqlens, mask, dropout and scale "
                            "must agree",
                            m, p->pipelines[m], p->pipelines[0]);
        else if (b->seed != a->seed || b->offset != a->offset)
            r = pattn_error(pattnMismatch,
                            "ring member %d (pipeline %d) passed generator state {seed %llu, "
                            "offset %llu}, member 0 {seed %llu, offset %llu}: every member of a "
                            "ring must pass the same",
                            m, p->pipelines[m], (unsigned long long)b->seed,
                            (unsigned long long)b->offset, (unsigned long long)a->seed,
                            (unsigned long long)a->offset);
        else if (b->pipeline != p->pipelines[m])
            r = pattn_error(pattnMismatch,
                            "ring member %d should be pipeline %d but pipeline %lld answered", m,
                            p->pipelines[m], (long long)b->pipeline);
    }
    free(all);
    return r;
}

pattnResult_t pattn_ring_begin(pattn_ring_t *rg, const pattn_problem_t *p, pattn_rng_t rng,
                               int backward, pattnComm_t comm, double timeout, void **state,
                               cudaStream_t stream, size_t extra_bytes, void **extra)
{
    memset(rg, 0, sizeof *rg);
    rg->profile = profile_on;
    rg->p = p;
    rg->comm = comm;
    rg->timeout = timeout;
    rg->stream = stream;
    const int k = p->me;
    rg->next = p->pipelines[(k + 1) % p->n];
    rg->prev = p->pipelines[(k + p->n - 1) % p->n];
    rg->kv_row_bytes = (size_t)(2 * p->Hkv * p->D) * pattn_dtype_size(p->dtype);
    if (comm->broken)
        return pattn_error(pattnInvalidArgument,
                           "ring: the communicator failed in an earlier call; give the handle a "
                           "new one (pattnSetComm)");
    if (comm->nranks <= p->pipelines[p->n - 1])
        return pattn_error(pattnInvalidArgument,
                           "ring: the communicator has %d ranks; the ring needs pipelines up to %d "
                           "(rank = pipeline index)",
                           comm->nranks, p->pipelines[p->n - 1]);
    if (comm->rank != p->pipelines[k])
        return pattn_error(pattnInvalidArgument,
                           "ring: params.pipeline = %d but the communicator is rank %d (rank = "
                           "pipeline index)",
                           p->pipelines[k], comm->rank);
    int device;
    if (cudaGetDevice(&device) != cudaSuccess || device != comm->device)
        return pattn_error(pattnInvalidArgument,
                           "ring: the calling thread's device is %d, the communicator's %d", device,
                           comm->device);
    int64_t max_rows = 0;
    for (int m = 0; m < p->n; ++m)
        max_rows = p->rows[m] > max_rows ? p->rows[m] : max_rows;
    const size_t kv_bytes = (size_t)max_rows * rg->kv_row_bytes;
    const size_t rec_bytes = sizeof(pattn_ring_record_t) * (size_t)(p->n + 1);
    /* Workspace: two K/V buffers, the records, then the caller's part (16-byte aligned). */
    const size_t a0 = pattn_cuda_workspace_part(kv_bytes);
    const size_t a1 = pattn_cuda_workspace_part(rec_bytes);
    pattnResult_t r = pattn_cuda_call_begin(&rg->call, state, stream);
    void *ws = NULL;
    if (r == pattnSuccess)
        r = pattn_cuda_call_workspace(&rg->call, 2 * a0 + a1 + extra_bytes, &ws);
    if (r != pattnSuccess)
        return r;
    rg->kv[0] = ws;
    rg->kv[1] = (char *)ws + a0;
    *extra = (char *)ws + 2 * a0 + a1;
    for (int b = 0; b < 2; ++b) {
        cudaError_t e = cudaEventCreateWithFlags(&rg->ready[b], cudaEventDisableTiming);
        if (e == cudaSuccess)
            e = cudaEventCreateWithFlags(&rg->freed[b], cudaEventDisableTiming);
        if (e != cudaSuccess)
            return pattn_error(pattnCudaError, "ring: cudaEventCreate: %s", cudaGetErrorString(e));
    }
    const pattn_ring_record_t mine = {RING_MAGIC, pattn_ring_digest(p), rng.seed, rng.offset,
                                      p->pipelines[k], backward};
    /* The records are exchanged after the compute stream's earlier work is ordered in. */
    cudaError_t e = cudaEventRecord(rg->freed[0], stream);
    if (e == cudaSuccess)
        e = cudaStreamWaitEvent(comm->stream, rg->freed[0], 0);
    if (e != cudaSuccess)
        return pattn_error(pattnCudaError, "ring: ordering the streams: %s", cudaGetErrorString(e));
    return handshake(rg, &mine, (char *)ws + 2 * a0);
}

pattnResult_t pattn_ring_pack_own(pattn_ring_t *rg, const void *qkv)
{
    const pattn_problem_t *p = rg->p;
    const size_t es = pattn_dtype_size(p->dtype);
    if (p->rows[p->me] > 0)
        CUDA_CHECK(cudaMemcpy2DAsync(rg->kv[0], rg->kv_row_bytes,
                                     (const char *)qkv + (size_t)(p->Hq * p->D) * es,
                                     (size_t)p->qkv_cols * es, rg->kv_row_bytes,
                                     (size_t)p->rows[p->me], cudaMemcpyDeviceToDevice, rg->stream));
    CUDA_CHECK(cudaEventRecord(rg->ready[0], rg->stream));
    return pattnSuccess;
}

pattnResult_t pattn_ring_kv_hop(pattn_ring_t *rg, int t)
{
    const pattn_problem_t *p = rg->p;
    const int b = t % 2, nb = (t + 1) % 2, k = p->me;
    const int j = pattn_step_kv_member(p, k, t), jn = pattn_step_kv_member(p, k, t + 1);
    cudaStream_t c = rg->comm->stream;
    CUDA_CHECK(cudaStreamWaitEvent(c, rg->ready[b], 0)); /* the block to pass on is there */
    if (t > 0)
        CUDA_CHECK(cudaStreamWaitEvent(c, rg->freed[nb], 0)); /* step t - 1 is done with nb */
    const pattn_xfer_t x[2] = {{rg->next, 1, rg->kv[b], (size_t)p->rows[j] * rg->kv_row_bytes},
                               {rg->prev, 0, rg->kv[nb], (size_t)p->rows[jn] * rg->kv_row_bytes}};
    pattnResult_t r = pattn_ring_group(rg, t, x, 2);
    if (r != pattnSuccess)
        return r;
    CUDA_CHECK(cudaEventRecord(rg->ready[nb], c));
    return pattnSuccess;
}

pattnResult_t pattn_ring_step_begin(pattn_ring_t *rg, int t)
{
    CUDA_CHECK(cudaStreamWaitEvent(rg->stream, rg->ready[t % 2], 0));
    return mark(rg, &rg->step_start[t], rg->stream);
}

pattnResult_t pattn_ring_step_end(pattn_ring_t *rg, int t)
{
    CUDA_CHECK(cudaEventRecord(rg->freed[t % 2], rg->stream));
    if (t + 1 > rg->steps_run)
        rg->steps_run = t + 1;
    return mark(rg, &rg->step_end[t], rg->stream);
}

pattn_cuda_kv_t pattn_ring_block(const pattn_ring_t *rg, int t)
{
    return pattn_cuda_kv_packed(rg->p, pattn_step_kv_member(rg->p, rg->p->me, t), rg->kv[t % 2]);
}

pattnResult_t pattn_ring_end(pattn_ring_t *rg, pattnResult_t r)
{
    /* Nothing may be left in flight: both streams drain (polled, at most the timeout). */
    if (r == pattnSuccess)
        r = rg->comm->ops->wait(rg->comm, rg->comm->stream, rg->timeout);
    if (r == pattnSuccess)
        r = rg->comm->ops->wait(rg->comm, rg->stream, rg->timeout);
    if (r == pattnTimeout || r == pattnNcclError)
        pattn_comm_fail(rg->comm, r);
    if (r == pattnSuccess && rg->profile)
        keep_profile(rg);
    for (int b = 0; b < 2; ++b) {
        if (rg->ready[b])
            cudaEventDestroy(rg->ready[b]);
        if (rg->freed[b])
            cudaEventDestroy(rg->freed[b]);
    }
    for (int t = 0; t < PATTN_MAX_RING; ++t) {
        if (rg->step_start[t])
            cudaEventDestroy(rg->step_start[t]);
        if (rg->step_end[t])
            cudaEventDestroy(rg->step_end[t]);
    }
    for (int g = 0; g < 2 * PATTN_MAX_RING; ++g) {
        if (rg->hop_start[g])
            cudaEventDestroy(rg->hop_start[g]);
        if (rg->hop_end[g])
            cudaEventDestroy(rg->hop_end[g]);
    }
    return pattn_cuda_call_end(&rg->call, r);
}
