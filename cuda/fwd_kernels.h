/*
 * fwd_kernels.h: the registry of forward kernels and the calls that run a list of work items
 * (fwd_args.h) through one of them. The tensor-core kernel is compiled for head dims 32, 64,
 * ..., 256 (fp16 and bf16); a head dim runs on the smallest one that holds it. On an sm_90
 * device (in a build with sm_90a code), head dims 64 and 128 run on the wgmma kernel instead,
 * unless the environment variable PATTN_CUDA_KERNEL=mma asks for the mma.sync kernel (to compare
 * the two). fp32, and any combination without a tensor-core variant, runs on the general kernel
 * (fwd_simt.cu).
 */
#ifndef PATTN_CUDA_FWD_KERNELS_H
#define PATTN_CUDA_FWD_KERNELS_H

#include <cuda_runtime_api.h>

#include "fwd_args.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Runs the items of L (grid: num_items * B * Hq CTAs, given as ctas) on stream. */
typedef cudaError_t (*pattn_cuda_launch_fn)(const pattn_cuda_fwd_launch_t *L, int ctas,
                                            cudaStream_t stream);

typedef struct pattn_cuda_kernel {
    const char *name;
    int block_rows; /* query rows per item */
    pattn_cuda_launch_fn launch;
} pattn_cuda_kernel_t;

/* The kernel for dtype and head_dim; general = 1 asks for the general kernel whatever the
 * dtype (tests compare the two). */
pattn_cuda_kernel_t pattn_cuda_pick_kernel(pattnDtype_t dtype, int head_dim, int general);

/* Runs count items (host memory, built for kernel->block_rows) with arguments a, in launches of
 * PATTN_CUDA_ITEMS_PER_LAUNCH items. Asynchronous on stream. */
pattnResult_t pattn_cuda_run_items(const pattn_cuda_kernel_t *kernel,
                                   const pattn_cuda_fwd_args_t *a, const pattn_cuda_item_t *items,
                                   int64_t count, cudaStream_t stream);

/* return_softmax: writes the normalised probabilities of the items' visible elements (sign bit
 * set where dropout drops them) into softmax (units, Hq, rows, cols), from a.lse (final).
 * Entries it does not write are left as they are (the caller zeroes the array first). */
pattnResult_t pattn_cuda_softmax_items(const pattn_cuda_fwd_args_t *a,
                                       const pattn_cuda_item_t *items, int64_t count,
                                       float *softmax, int64_t rows, int64_t cols,
                                       cudaStream_t stream);

/* ACCUMULATE mode: acc (n_acc fp32) = 0 and lse (n_lse) = -inf before the first partial. */
pattnResult_t pattn_cuda_accumulate_init(float *acc, int64_t n_acc, float *lse, int64_t n_lse,
                                         cudaStream_t stream);

/* ACCUMULATE mode: out (n elements of dtype) = acc rounded to nearest even. */
pattnResult_t pattn_cuda_finalize(pattnDtype_t dtype, const float *acc, void *out, int64_t n,
                                  cudaStream_t stream);

/* Launchers, one per compiled kernel. */
cudaError_t pattn_cuda_fwd_mma_d32(const pattn_cuda_fwd_launch_t *, int, cudaStream_t);
cudaError_t pattn_cuda_fwd_mma_d64(const pattn_cuda_fwd_launch_t *, int, cudaStream_t);
cudaError_t pattn_cuda_fwd_mma_d96(const pattn_cuda_fwd_launch_t *, int, cudaStream_t);
cudaError_t pattn_cuda_fwd_mma_d128(const pattn_cuda_fwd_launch_t *, int, cudaStream_t);
cudaError_t pattn_cuda_fwd_mma_d160(const pattn_cuda_fwd_launch_t *, int, cudaStream_t);
cudaError_t pattn_cuda_fwd_mma_d192(const pattn_cuda_fwd_launch_t *, int, cudaStream_t);
cudaError_t pattn_cuda_fwd_mma_d224(const pattn_cuda_fwd_launch_t *, int, cudaStream_t);
cudaError_t pattn_cuda_fwd_mma_d256(const pattn_cuda_fwd_launch_t *, int, cudaStream_t);
cudaError_t pattn_cuda_fwd_simt(const pattn_cuda_fwd_launch_t *, int, cudaStream_t);
/* Hopper (sm_90a) kernels for head dims 64 and 128 exactly (fwd_wgmma.cuh). */
cudaError_t pattn_cuda_fwd_wgmma_d64(const pattn_cuda_fwd_launch_t *, int, cudaStream_t);
cudaError_t pattn_cuda_fwd_wgmma_d128(const pattn_cuda_fwd_launch_t *, int, cudaStream_t);
/* Rows per item of the Hopper kernels. */
#define PATTN_CUDA_WGMMA_ROWS 128
/* Rows per item of the general kernel. */
#define PATTN_CUDA_SIMT_ROWS 16

#ifdef __cplusplus
}
#endif

#endif /* PATTN_CUDA_FWD_KERNELS_H */
