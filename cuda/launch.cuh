/*
 * launch.cuh: launching a kernel of one family: raising its shared-memory limit, the grid of a
 * work-item list (kernel_args.h), and the switch from run-time facts (dtype, dropout, output
 * mode) to the template arguments of one instantiation.
 */
#ifndef PATTN_CUDA_LAUNCH_CUH
#define PATTN_CUDA_LAUNCH_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "kernel_args.h"
#include "smem_limit.cuh"

namespace pattn {

template <auto Kernel, typename Args>
cudaError_t launch_kernel(int ctas, int threads, size_t smem, cudaStream_t stream, const Args &a)
{
    const cudaError_t e = allow_smem<Kernel>(smem);
    if (e != cudaSuccess)
        return e;
    Kernel<<<ctas, threads, smem, stream>>>(a);
    return cudaGetLastError();
}

/* Forward family F: F::run<T, DROPOUT, MODE>(args, ctas, stream); F::FP32 when it has fp32. */
template <class F, typename T>
cudaError_t fwd_typed(const pattn_cuda_fwd_args_t *a, int mode, int ctas, cudaStream_t s)
{
    if (a->drop.on)
        return mode == PATTN_CUDA_ACCUMULATE ? F::template run<T, true, PATTN_CUDA_ACCUMULATE>(a, ctas, s)
                                             : F::template run<T, true, PATTN_CUDA_FINAL>(a, ctas, s);
    return mode == PATTN_CUDA_ACCUMULATE ? F::template run<T, false, PATTN_CUDA_ACCUMULATE>(a, ctas, s)
                                         : F::template run<T, false, PATTN_CUDA_FINAL>(a, ctas, s);
}

template <class F> cudaError_t dispatch_fwd(const void *args, int mode, cudaStream_t s)
{
    const pattn_cuda_fwd_args_t *a = static_cast<const pattn_cuda_fwd_args_t *>(args);
    const int ctas = a->num_items * a->Hq * a->B; /* bounded by the caller (step.c) */
    switch (a->dtype) {
    case PATTN_BF16:
        return fwd_typed<F, __nv_bfloat16>(a, mode, ctas, s);
    case PATTN_FP16:
        return fwd_typed<F, __half>(a, mode, ctas, s);
    default:
        if constexpr (F::FP32)
            return fwd_typed<F, float>(a, mode, ctas, s);
        return cudaErrorInvalidValue;
    }
}

/* Backward family F: F::run<T, DROPOUT>(args, stream) (the mode is read at run time: the
 * backward's epilogue keeps nothing live across it). */
template <class F, typename T> cudaError_t bwd_typed(const pattn_cuda_bwd_args_t *a, cudaStream_t s)
{
    return a->drop.on ? F::template run<T, true>(a, s) : F::template run<T, false>(a, s);
}

template <class F> cudaError_t dispatch_bwd(const void *args, int mode, cudaStream_t s)
{
    const pattn_cuda_bwd_args_t *a = static_cast<const pattn_cuda_bwd_args_t *>(args);
    (void)mode; /* a->accumulate */
    switch (a->dtype) {
    case PATTN_BF16:
        return bwd_typed<F, __nv_bfloat16>(a, s);
    case PATTN_FP16:
        return bwd_typed<F, __half>(a, s);
    default:
        if constexpr (F::FP32)
            return bwd_typed<F, float>(a, s);
        return cudaErrorInvalidValue;
    }
}

} // namespace pattn

/* Defines the registry's launcher pattn_cuda_<family>_d<D> (registry.h, kernels.def): the call of
 * the dispatcher given as the rest of the arguments (dispatch_fwd or dispatch_bwd on the family's
 * kernel class, which may hold commas). Each family header defines PATTN_DEFINE_<FAMILY>(D) with
 * it, the name cuda/CMakeLists.txt's generated sources use. */
#define PATTN_DEFINE_LAUNCHER(family, D_, ...)                                                     \
    extern "C" cudaError_t pattn_cuda_##family##_d##D_(const void *args, int mode,                \
                                                        cudaStream_t stream)                       \
    {                                                                                              \
        return __VA_ARGS__(args, mode, stream);                                                    \
    }

#endif /* PATTN_CUDA_LAUNCH_CUH */
