/*
 * step.c: the CUDA block executor (step.h): the device-resident items of a call, the K/V block
 * descriptions, the kernel arguments of a step, and its launches.
 */
#include "step.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "dtype.h"

static pattn_orient_t orient_of(const pattn_cuda_kernel_t *kernel)
{
    return kernel->pass == PATTN_CUDA_PASS_DKDV ? PATTN_KEY_MAJOR : PATTN_QUERY_MAJOR;
}

/* Whether kernel adds dQ in pattn_items_turns' order on p: a fused dQ in the deterministic mode. */
static int ordered_dq(const pattn_problem_t *p, const pattn_cuda_kernel_t *kernel)
{
    return kernel->fused_dq && p->deterministic;
}

pattnResult_t pattn_cuda_plan_build(const pattn_problem_t *p, int k, int steps,
                                    const pattn_cuda_kernel_t *kernel, int every_tile,
                                    cudaStream_t stream, pattn_cuda_plan_t *plan)
{
    memset(plan, 0, sizeof *plan);
    plan->kernel = kernel;
    /* A fused dQ adds in a fixed order in the deterministic mode: tile order, which nests each
     * unit's items (pattn_items_turns); every other list runs heaviest first. */
    const int ordered = ordered_dq(p, kernel);
    pattn_items_t lists[PATTN_MAX_RING];
    memset(lists, 0, sizeof lists);
    pattnResult_t r = pattnSuccess;
    for (int t = 0; t < steps && r == pattnSuccess; ++t) {
        r = pattn_items_build(p, k, t, orient_of(kernel), kernel->rows, every_tile, &lists[t]);
        if (r == pattnSuccess && !ordered) {
            pattn_items_sort_heaviest(&lists[t]);
            plan->uneven[t] = pattn_items_uneven(&lists[t]);
        }
        plan->first[t + 1] = plan->first[t] + lists[t].count;
    }
    const int64_t total = plan->first[steps];
    const size_t item_bytes = (size_t)total * sizeof(pattn_item_t);
    const size_t bytes = item_bytes + (ordered ? (size_t)total * sizeof(pattn_item_turn_t) : 0);
    char *host = NULL;
    if (r == pattnSuccess && total > 0 && !(host = malloc(bytes)))
        r = pattn_error(pattnSystemError, "backend cuda: out of host memory for %lld work items",
                        (long long)total);
    pattn_item_turn_t *const turns = host ? (pattn_item_turn_t *)(host + item_bytes) : NULL;
    for (int t = 0; r == pattnSuccess && host && t < steps; ++t) {
        memcpy((pattn_item_t *)host + plan->first[t], lists[t].item,
               (size_t)lists[t].count * sizeof(pattn_item_t));
        if (ordered)
            r = pattn_items_turns(&lists[t], kernel->dq_rows, turns + plan->first[t],
                                  &plan->counters[t]);
        if (r == pattnSuccess && ordered &&
            plan->counters[t] > pattn_items_turn_bound(p, k, kernel->dq_rows))
            r = pattn_error(pattnInternalError, "backend cuda: step %d's dQ counters (%d) exceed "
                            "their bound", t, plan->counters[t]);
    }
    for (int t = 0; t < steps; ++t)
        pattn_items_free(&lists[t]);
    if (r == pattnSuccess && total > 0) {
        cudaError_t e = cudaMallocAsync((void **)&plan->dev, bytes, stream);
        if (e == cudaSuccess)
            e = cudaMemcpyAsync(plan->dev, host, bytes, cudaMemcpyHostToDevice, stream);
        if (e != cudaSuccess)
            r = pattn_error(pattnCudaError, "backend cuda: uploading %lld work items (%zu bytes): %s",
                            (long long)total, bytes, cudaGetErrorString(e));
        if (ordered && e == cudaSuccess)
            plan->turns = (pattn_item_turn_t *)((char *)plan->dev + item_bytes);
    }
    free(host); /* pageable source: cudaMemcpyAsync returned once it was staged */
    return r;
}

size_t pattn_cuda_dq_counter_bytes(const pattn_problem_t *p, int k, const pattn_cuda_kernel_t *dkdv)
{
    if (!ordered_dq(p, dkdv))
        return 0;
    return sizeof(int32_t) * (size_t)(pattn_items_turn_bound(p, k, dkdv->dq_rows) * p->Hq * p->B);
}

cudaError_t pattn_cuda_plan_free(pattn_cuda_plan_t *plan, cudaStream_t stream)
{
    cudaError_t e = plan->dev ? cudaFreeAsync(plan->dev, stream) : cudaSuccess;
    plan->dev = NULL;
    return e;
}

pattn_cuda_kv_t pattn_cuda_kv_in_qkv(const pattn_problem_t *p, int j, const void *qkv)
{
    const size_t esize = pattn_dtype_size(p->dtype);
    const char *base = qkv;
    pattn_cuda_kv_t kv = {base + (size_t)(p->Hq * p->D) * esize,
                          base + (size_t)((p->Hq + p->Hkv) * p->D) * esize, p->qkv_cols,
                          pattn_sample_rows(p, j)};
    return kv;
}

pattn_cuda_kv_t pattn_cuda_kv_packed(const pattn_problem_t *p, int j, const void *buf)
{
    const size_t esize = pattn_dtype_size(p->dtype);
    const char *base = buf;
    pattn_cuda_kv_t kv = {base, base + (size_t)(p->Hkv * p->D) * esize, 2 * p->Hkv * p->D,
                          pattn_sample_rows(p, j)};
    return kv;
}

static pattn_cuda_dropout_t dropout_of(const pattn_problem_t *p, pattn_rng_t rng)
{
    pattn_cuda_dropout_t d = {p->p_dropout > 0, p->keep_threshold,
                              p->p_dropout > 0 ? p->keep_scale : 1.0f, rng.seed, rng.offset};
    return d;
}

pattn_cuda_fwd_args_t pattn_cuda_fwd_args(const pattn_problem_t *p, int k, int t, pattn_rng_t rng,
                                          const pattn_cuda_plan_t *plan, const void *qkv,
                                          const pattn_cuda_kv_t *kv, void *out, float *lse)
{
    pattn_cuda_fwd_args_t a;
    memset(&a, 0, sizeof a);
    a.dtype = p->dtype;
    a.D = (int32_t)p->D;
    a.Hq = (int32_t)p->Hq;
    a.r = (int32_t)p->r;
    a.B = (int32_t)p->B;
    a.q = qkv;
    a.q_stride = p->qkv_cols;
    a.sample_rows = pattn_sample_rows(p, k);
    a.kv = *kv;
    a.out = out;
    a.out_stride = p->out_cols;
    a.lse = lse;
    pattn_lse_strides(p, k, &a.lse_sample_stride, &a.lse_head_stride);
    a.scale = p->scale;
    a.scale_log2 = (float)((double)p->scale * 1.4426950408889634);
    a.drop = dropout_of(p, rng);
    a.items = plan->dev ? plan->dev + plan->first[t] : NULL;
    a.num_items = (int32_t)(plan->first[t + 1] - plan->first[t]);
    a.uneven = plan->uneven[t];
    return a;
}

/* Launches kernel on args unless it has no items; checks the grid and the launch. */
static pattnResult_t launch(const pattn_problem_t *p, const pattn_cuda_kernel_t *kernel,
                            const void *args, int64_t items, int mode, cudaStream_t stream)
{
    if (items == 0)
        return pattnSuccess;
    /* CTAs: items x heads (at most 2 Hq: dK/dV chunks) x samples. */
    if (items * 2 * p->Hq * p->B > INT_MAX)
        return pattn_error(pattnUnsupported,
                           "backend cuda: %lld work items x %lld heads x %lld samples exceed one "
                           "launch",
                           (long long)items, (long long)p->Hq, (long long)p->B);
    const cudaError_t e = kernel->launch(args, mode, stream);
    if (e != cudaSuccess)
        return pattn_error(pattnCudaError, "backend cuda: kernel %s (%lld items): %s",
                           kernel->name, (long long)items, cudaGetErrorString(e));
    return pattnSuccess;
}

pattnResult_t pattn_cuda_fwd_step(const pattn_problem_t *p, int k, int t, pattn_rng_t rng,
                                  const pattn_cuda_plan_t *plan, const void *qkv,
                                  const pattn_cuda_kv_t *kv, void *out, float *lse,
                                  pattn_cuda_mode_t mode, cudaStream_t stream)
{
    const pattn_cuda_fwd_args_t a = pattn_cuda_fwd_args(p, k, t, rng, plan, qkv, kv, out, lse);
    return launch(p, plan->kernel, &a, a.num_items, mode, stream);
}

pattnResult_t pattn_cuda_bwd_step(const pattn_problem_t *p, int k, int t, pattn_rng_t rng,
                                  const pattn_cuda_plan_t *dkdv, const pattn_cuda_plan_t *dq,
                                  const pattn_cuda_bwd_queries_t *queries,
                                  const pattn_cuda_bwd_keys_t *keys, pattn_cuda_mode_t mode,
                                  cudaStream_t stream)
{
    pattn_cuda_bwd_args_t a;
    memset(&a, 0, sizeof a);
    a.dtype = p->dtype;
    a.D = (int32_t)p->D;
    a.Hq = (int32_t)p->Hq;
    a.r = (int32_t)p->r;
    a.B = (int32_t)p->B;
    a.q = queries->qkv;
    a.dout = queries->dout;
    a.q_stride = p->qkv_cols;
    a.dout_stride = p->out_cols;
    a.sample_rows = pattn_sample_rows(p, k);
    a.lse = queries->lse;
    a.dsum = queries->dsum;
    pattn_lse_strides(p, k, &a.lse_sample_stride, &a.lse_head_stride);
    a.kv = keys->kv;
    a.dq = queries->dq;
    a.dq_stride = queries->dq_stride;
    a.dk = keys->dk;
    a.dv = keys->dv;
    a.dkv_stride = keys->dkv_stride;
    a.accumulate = mode == PATTN_CUDA_ACCUMULATE;
    a.scale = p->scale;
    a.scale_log2 = (float)((double)p->scale * 1.4426950408889634);
    a.drop = dropout_of(p, rng);
    a.items = dkdv->dev ? dkdv->dev + dkdv->first[t] : NULL;
    a.num_items = (int32_t)(dkdv->first[t + 1] - dkdv->first[t]);
    if (dkdv->turns && a.num_items > 0) { /* the deterministic fused dQ: its counters from 0 */
        if (!queries->dq_counters)
            return pattn_error(pattnInternalError,
                               "backend cuda: a deterministic fused dQ without its counters");
        a.turns = dkdv->turns + dkdv->first[t];
        a.dq_counters = queries->dq_counters;
        a.counters = dkdv->counters[t];
        const size_t bytes = sizeof(int32_t) * (size_t)a.counters * (size_t)(p->Hq * p->B);
        const cudaError_t e = cudaMemsetAsync(a.dq_counters, 0, bytes, stream);
        if (e != cudaSuccess) {
            cudaGetLastError(); /* reported here, not by a later launch */
            return pattn_error(pattnCudaError, "backend cuda: zeroing dQ's counters: %s",
                               cudaGetErrorString(e));
        }
    }
    pattnResult_t r = launch(p, dkdv->kernel, &a, a.num_items, mode, stream);
    if (r != pattnSuccess || dkdv->kernel->fused_dq)
        return r;
    a.items = dq->dev ? dq->dev + dq->first[t] : NULL;
    a.num_items = (int32_t)(dq->first[t + 1] - dq->first[t]);
    return launch(p, dq->kernel, &a, a.num_items, mode, stream);
}
