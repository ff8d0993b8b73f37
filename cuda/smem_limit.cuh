/*
 * smem_limit.cuh: raising a kernel's dynamic shared-memory limit once per device and process
 * (cudaFuncSetAttribute costs a driver call; the forward launches on every call).
 */
#ifndef PATTN_CUDA_SMEM_LIMIT_CUH
#define PATTN_CUDA_SMEM_LIMIT_CUH

#include <cuda_runtime.h>

namespace pattn {

constexpr int MAX_DEVICES = 64;

/* Allows Kernel up to bytes of dynamic shared memory on the current device. The flags are per
 * kernel (a template argument, not a function-pointer type, which every kernel of one signature
 * shares). Two threads may both set it the first time: the call is idempotent. */
template <auto Kernel>
cudaError_t allow_smem(size_t bytes)
{
    static bool done[MAX_DEVICES];
    int device;
    cudaError_t e = cudaGetDevice(&device);
    if (e != cudaSuccess)
        return e;
    if (device >= 0 && device < MAX_DEVICES && done[device])
        return cudaSuccess;
    e = cudaFuncSetAttribute(Kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes);
    if (e == cudaSuccess && device >= 0 && device < MAX_DEVICES)
        done[device] = true;
    return e;
}

} // namespace pattn

#endif /* PATTN_CUDA_SMEM_LIMIT_CUH */
