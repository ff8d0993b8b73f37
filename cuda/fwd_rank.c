/*
 * fwd_rank.c: one rank's forward on the GPU (fwd_rank.h): kernel arguments from the problem,
 * the work items of the plan, the kernel the registry picks (the general one when a pointer is
 * not aligned for the tensor-core kernel's 16-byte loads), then return_softmax.
 */
#include "fwd_rank.h"

#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "dtype.h"
#include "fwd_kernels.h"
#include "work_items.h"

void pattn_cuda_args_for(const pattn_problem_t *p, int k, int kv_member, pattn_rng_t rng,
                         const void *qkv, const void *kv_qkv, void *out, float *lse,
                         pattn_cuda_mode_t mode, pattn_cuda_fwd_args_t *a)
{
    const size_t esize = pattn_dtype_size(p->dtype);
    const char *kv = kv_qkv;
    *a = (pattn_cuda_fwd_args_t){0};
    a->dtype = p->dtype;
    a->D = (int32_t)p->D;
    a->Hq = (int32_t)p->Hq;
    a->r = (int32_t)p->r;
    a->B = (int32_t)p->B;
    a->q = qkv;
    a->k = kv + (size_t)(p->Hq * p->D) * esize;
    a->v = kv + (size_t)((p->Hq + p->Hkv) * p->D) * esize;
    a->q_stride = a->kv_stride = p->qkv_cols;
    a->q_sample_rows = p->packing ? 0 : p->L[k];
    a->kv_sample_rows = p->packing ? 0 : p->L[kv_member];
    a->out = out;
    a->out_stride = p->out_cols;
    a->lse = lse;
    a->lse_sample_stride = p->packing ? 0 : p->Hq * p->L[k];
    a->lse_head_stride = p->packing ? p->rows[k] : p->L[k];
    a->mode = mode;
    a->scale = p->scale;
    a->scale_log2 = (float)((double)p->scale * 1.4426950408889634);
    a->dropout = p->p_dropout > 0;
    a->keep_threshold = p->keep_threshold;
    a->keep_scale = a->dropout ? p->keep_scale : 1.0f;
    a->seed = rng.seed;
    a->offset = rng.offset;
}

static int aligned(const void *ptr, uintptr_t bytes) { return ((uintptr_t)ptr % bytes) == 0; }

pattnResult_t pattn_cuda_forward_rank(const pattn_problem_t *p, pattn_rng_t rng, const void *qkv,
                                      void *out, float *lse, float *softmax, cudaStream_t stream,
                                      int general)
{
    const int k = p->me;
    if (p->rows[k] == 0) {
        if (softmax)
            CUDA_CHECK(cudaMemsetAsync(softmax, 0,
                                       sizeof(float) * (size_t)(pattn_num_units(p) * p->Hq *
                                                                p->sm_lq * p->sm_nk),
                                       stream));
        return pattnSuccess;
    }
    /* The tensor-core kernel copies 16 bytes at a time and stores pairs of outputs. */
    const int fast_ok = aligned(qkv, 16) && aligned(out, 4);
    pattn_cuda_kernel_t kernel = pattn_cuda_pick_kernel(p->dtype, (int)p->D, general || !fast_ok);
    pattn_cuda_item_t *items;
    int64_t count;
    pattnResult_t r =
        pattn_cuda_build_items(p, k, 0, kernel.block_rows, PATTN_CUDA_FINAL, &items, &count);
    if (r != pattnSuccess)
        return r;
    pattn_cuda_fwd_args_t a;
    pattn_cuda_args_for(p, k, k, rng, qkv, qkv, out, lse, PATTN_CUDA_FINAL, &a);
    r = pattn_cuda_run_items(&kernel, &a, items, count, stream);
    if (r == pattnSuccess && softmax) {
        const size_t bytes =
            sizeof(float) * (size_t)(pattn_num_units(p) * p->Hq * p->sm_lq * p->sm_nk);
        cudaError_t e = cudaMemsetAsync(softmax, 0, bytes, stream);
        if (e != cudaSuccess)
            r = pattn_error(pattnCudaError, "cudaMemsetAsync(softmax, 0, %zu) failed: %s", bytes,
                            cudaGetErrorString(e));
        else
            r = pattn_cuda_softmax_items(&a, items, count, softmax, p->sm_lq, p->sm_nk, stream);
    }
    free(items);
    return r;
}
