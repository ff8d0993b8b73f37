/*
 * fwd_registry.cu: which forward kernel runs a (dtype, head dim), running item lists through
 * it, and the two small kernels of ACCUMULATE mode (initialise, then cast the accumulator).
 */
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fwd_common.cuh"
#include "fwd_kernels.h"
#include "fwd_mma_config.h"
#include "launch_chunks.cuh"

namespace {

struct MmaVariant {
    int head_dim;
    int block_rows;
    pattn_cuda_launch_fn launch;
};

const MmaVariant mma_variants[] = {
    {32, pattn::MmaConfigFor<32>::BR, pattn_cuda_fwd_mma_d32},
    {64, pattn::MmaConfigFor<64>::BR, pattn_cuda_fwd_mma_d64},
    {96, pattn::MmaConfigFor<96>::BR, pattn_cuda_fwd_mma_d96},
    {128, pattn::MmaConfigFor<128>::BR, pattn_cuda_fwd_mma_d128},
    {160, pattn::MmaConfigFor<160>::BR, pattn_cuda_fwd_mma_d160},
    {192, pattn::MmaConfigFor<192>::BR, pattn_cuda_fwd_mma_d192},
    {224, pattn::MmaConfigFor<224>::BR, pattn_cuda_fwd_mma_d224},
    {256, pattn::MmaConfigFor<256>::BR, pattn_cuda_fwd_mma_d256},
};

const char *const mma_names[] = {"mma_d32",  "mma_d64",  "mma_d96",  "mma_d128",
                                 "mma_d160", "mma_d192", "mma_d224", "mma_d256"};

/* Whether the wgmma kernels may run: the build has sm_90a code (CMake defines
 * PATTN_CUDA_HAVE_SM90A), the current device is sm_90, and PATTN_CUDA_KERNEL is not "mma". */
bool wgmma_allowed()
{
#ifdef PATTN_CUDA_HAVE_SM90A
    const char *forced = getenv("PATTN_CUDA_KERNEL");
    if (forced && !strcmp(forced, "mma"))
        return false;
    int device, major;
    if (cudaGetDevice(&device) != cudaSuccess ||
        cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess) {
        cudaGetLastError(); /* no device: the caller's own calls will say so */
        return false;
    }
    return major == 9;
#else
    return false;
#endif
}

struct KernelLauncher {
    pattn_cuda_launch_fn fn;
    cudaError_t operator()(const pattn_cuda_fwd_launch_t *L, int ctas, cudaStream_t s) const
    {
        return fn(L, ctas, s);
    }
};

__global__ void fill_kernel(float *x, int64_t n, float value)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        x[i] = value;
}

template <typename T> __global__ void cast_kernel(const float *acc, T *out, int64_t n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        out[i] = pattn::from_float<T>(acc[i]);
}

int grid_for(int64_t n)
{
    const int64_t blocks = (n + 255) / 256;
    return (int)(blocks < 4096 ? (blocks > 0 ? blocks : 1) : 4096);
}

} // namespace

extern "C" pattn_cuda_kernel_t pattn_cuda_pick_kernel(pattnDtype_t dtype, int head_dim,
                                                      int general)
{
    if (!general && dtype != PATTN_FP32 && (head_dim == 64 || head_dim == 128) &&
        wgmma_allowed())
        return head_dim == 64 ? pattn_cuda_kernel_t{"wgmma_d64", PATTN_CUDA_WGMMA_ROWS,
                                                    pattn_cuda_fwd_wgmma_d64}
                              : pattn_cuda_kernel_t{"wgmma_d128", PATTN_CUDA_WGMMA_ROWS,
                                                    pattn_cuda_fwd_wgmma_d128};
    if (!general && dtype != PATTN_FP32)
        for (size_t i = 0; i < sizeof mma_variants / sizeof mma_variants[0]; ++i)
            if (head_dim <= mma_variants[i].head_dim)
                return pattn_cuda_kernel_t{mma_names[i], mma_variants[i].block_rows,
                                           mma_variants[i].launch};
    return pattn_cuda_kernel_t{"simt", PATTN_CUDA_SIMT_ROWS, pattn_cuda_fwd_simt};
}

extern "C" pattnResult_t pattn_cuda_run_items(const pattn_cuda_kernel_t *kernel,
                                              const pattn_cuda_fwd_args_t *a,
                                              const pattn_cuda_item_t *items, int64_t count,
                                              cudaStream_t stream)
{
    return pattn::launch_in_chunks(a, items, count, stream, kernel->name,
                                   KernelLauncher{kernel->launch});
}

extern "C" pattnResult_t pattn_cuda_accumulate_init(float *acc, int64_t n_acc, float *lse,
                                                    int64_t n_lse, cudaStream_t stream)
{
    if (n_acc > 0)
        CUDA_CHECK(cudaMemsetAsync(acc, 0, (size_t)n_acc * sizeof(float), stream));
    if (n_lse > 0) {
        fill_kernel<<<grid_for(n_lse), 256, 0, stream>>>(lse, n_lse, -INFINITY);
        CUDA_CHECK(cudaGetLastError());
    }
    return pattnSuccess;
}

extern "C" pattnResult_t pattn_cuda_finalize(pattnDtype_t dtype, const float *acc, void *out,
                                             int64_t n, cudaStream_t stream)
{
    if (n <= 0)
        return pattnSuccess;
    switch (dtype) {
    case PATTN_FP16:
        cast_kernel<<<grid_for(n), 256, 0, stream>>>(acc, static_cast<__half *>(out), n);
        break;
    case PATTN_BF16:
        cast_kernel<<<grid_for(n), 256, 0, stream>>>(acc, static_cast<__nv_bfloat16 *>(out), n);
        break;
    default:
        cast_kernel<<<grid_for(n), 256, 0, stream>>>(acc, static_cast<float *>(out), n);
    }
    CUDA_CHECK(cudaGetLastError());
    return pattnSuccess;
}
