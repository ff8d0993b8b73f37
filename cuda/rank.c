/*
 * rank.c: one rank's forward and backward on the GPU (rank.h): the kernels the registry picks
 * (the general ones when an array is not aligned for the tensor-core kernels), the items of one
 * step against the member's own K/V (call.h: cached in the handle), FINAL stores; then
 * return_softmax, or for the backward the rowsum(dO * O) first and, where the dK/dV kernel
 * fuses dQ, dQ summed in fp32 in the workspace and cast at the end.
 */
#include "rank.h"

#include <stdint.h>

#include "call.h"
#include "check.h"
#include "dtype.h"

int pattn_cuda_aligned(const void *const *loads, int num_loads, const void *const *stores,
                       int num_stores)
{
    for (int i = 0; i < num_loads; ++i)
        if ((uintptr_t)loads[i] % 16)
            return 0;
    for (int i = 0; i < num_stores; ++i)
        if ((uintptr_t)stores[i] % 4)
            return 0;
    return 1;
}

pattnResult_t pattn_cuda_forward_rank(const pattn_problem_t *p, pattn_rng_t rng, const void *qkv,
                                      void *out, float *lse, float *softmax, void **state,
                                      cudaStream_t stream)
{
    const int k = p->me;
    const size_t softmax_bytes = sizeof(float) * (size_t)pattn_softmax_elems(p, k);
    if (softmax && softmax_bytes)
        CUDA_CHECK(cudaMemsetAsync(softmax, 0, softmax_bytes, stream));
    if (p->rows[k] == 0)
        return pattnSuccess;
    const void *loads[] = {qkv}, *stores[] = {out};
    const pattn_cuda_kernel_t *kernel;
    pattnResult_t r = pattn_cuda_pick_forward(p, pattn_cuda_aligned(loads, 1, stores, 1), &kernel);
    pattn_cuda_call_t call;
    if (r == pattnSuccess)
        r = pattn_cuda_call_begin(&call, state, stream);
    if (r != pattnSuccess)
        return r;
    const pattn_cuda_plan_t *plan;
    const pattn_cuda_kv_t kv = pattn_cuda_kv_in_qkv(p, k, qkv);
    r = pattn_cuda_call_plan(&call, p, k, 1, kernel, 1, &plan);
    if (r == pattnSuccess)
        r = pattn_cuda_fwd_step(p, k, 0, rng, plan, qkv, &kv, out, lse, PATTN_CUDA_FINAL, stream);
    if (r == pattnSuccess && softmax) {
        const pattn_cuda_fwd_args_t a = pattn_cuda_fwd_args(p, k, 0, rng, plan, qkv, &kv, out, lse);
        r = pattn_cuda_softmax(&a, softmax, pattn_member_lq(p, k), p->sm_nk, stream);
    }
    return pattn_cuda_call_end(&call, r);
}

pattnResult_t pattn_cuda_backward_rank(const pattn_problem_t *p, pattn_rng_t rng, const void *qkv,
                                       const void *out, const float *lse, const void *dout,
                                       void *dqkv, void **state, cudaStream_t stream)
{
    const int k = p->me;
    if (p->rows[k] == 0)
        return pattnSuccess;
    const void *loads[] = {qkv, dout}, *stores[] = {dqkv};
    const int aligned = pattn_cuda_aligned(loads, 2, stores, 1);
    const pattn_cuda_kernel_t *kdkdv, *kdq;
    pattnResult_t r = pattn_cuda_pick_backward(p, aligned, &kdkdv, &kdq);
    pattn_cuda_call_t call;
    if (r == pattnSuccess)
        r = pattn_cuda_call_begin(&call, state, stream);
    if (r != pattnSuccess)
        return r;
    /* The workspace: D = rowsum(dO * O), then, for a fused dQ, its fp32 sum (and the counters
     * of its order in the deterministic mode). */
    const size_t dsum_b = pattn_cuda_workspace_part(sizeof(float) * (size_t)pattn_lse_elems(p, k));
    const size_t dq_b =
        kdq ? 0 : pattn_cuda_workspace_part(sizeof(float) * (size_t)(p->rows[k] * p->out_cols));
    const size_t count_b = pattn_cuda_dq_counter_bytes(p, k, kdkdv);
    const pattn_cuda_plan_t *dkdv, *dq = NULL;
    char *ws = NULL;
    r = pattn_cuda_call_workspace(&call, dsum_b + dq_b + count_b, (void **)&ws);
    float *const dsum = r == pattnSuccess ? (float *)ws : NULL;
    float *const dq32 = r == pattnSuccess ? (float *)(ws + dsum_b) : NULL;
    int32_t *const counters = r == pattnSuccess && count_b ? (int32_t *)(ws + dsum_b + dq_b) : NULL;
    if (r == pattnSuccess)
        r = pattn_cuda_dsum(p, k, out, dout, dsum, stream);
    cudaError_t e = cudaSuccess;
    if (r == pattnSuccess && !kdq && (e = cudaMemsetAsync(dq32, 0, dq_b, stream)) != cudaSuccess) {
        cudaGetLastError(); /* reported here, not by a later launch */
        r = pattn_error(pattnCudaError, "backend cuda: zeroing dQ's fp32 sum: %s",
                        cudaGetErrorString(e));
    }
    if (r == pattnSuccess)
        r = pattn_cuda_call_plan(&call, p, k, 1, kdkdv, 1, &dkdv);
    if (r == pattnSuccess && kdq)
        r = pattn_cuda_call_plan(&call, p, k, 1, kdq, 1, &dq);
    if (r == pattnSuccess) {
        const size_t esize = pattn_dtype_size(p->dtype);
        char *g = dqkv;
        const pattn_cuda_bwd_queries_t queries = {qkv, dout, lse, dsum,
                                                  kdq ? dqkv : (void *)dq32,
                                                  kdq ? p->qkv_cols : p->out_cols, counters};
        const pattn_cuda_bwd_keys_t keys = {pattn_cuda_kv_in_qkv(p, k, qkv),
                                            g + (size_t)(p->Hq * p->D) * esize,
                                            g + (size_t)((p->Hq + p->Hkv) * p->D) * esize,
                                            p->qkv_cols};
        r = pattn_cuda_bwd_step(p, k, 0, rng, dkdv, dq, &queries, &keys, PATTN_CUDA_FINAL, stream);
    }
    if (r == pattnSuccess && !kdq)
        r = pattn_cuda_cast_rows(p->dtype, dq32, p->out_cols, dqkv, p->qkv_cols, p->rows[k],
                                 p->out_cols, stream);
    return pattn_cuda_call_end(&call, r);
}
