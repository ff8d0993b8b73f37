/*
 * memspace_cuda.c: device memory for the CUDA backend (memspace.h); built only when the
 * project has CUDA. Every CUDA call is checked and its error string reported.
 */
#include <cuda_runtime.h>

#include "memspace.h"

static int cuda_fail(conf_error_t *err, const char *what, cudaError_t e)
{
    return conf_fail(err, "%s: %s (%s)", what, cudaGetErrorString(e), cudaGetErrorName(e));
}

static int cuda_available(conf_error_t *why)
{
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess)
        return cuda_fail(why, "no GPU visible: cudaGetDeviceCount", e);
    if (count == 0)
        return conf_fail(why, "no GPU visible (cudaGetDeviceCount = 0)");
    return 0;
}

static int cuda_alloc(void **ptr, size_t bytes, conf_error_t *err)
{
    cudaError_t e = cudaMalloc(ptr, bytes ? bytes : 1);
    return e == cudaSuccess ? 0 : cuda_fail(err, "cudaMalloc", e);
}

static int cuda_upload(void *dst, const void *src, size_t bytes, conf_error_t *err)
{
    cudaError_t e = bytes ? cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice) : cudaSuccess;
    return e == cudaSuccess ? 0 : cuda_fail(err, "cudaMemcpy host to device", e);
}

static int cuda_download(void *dst, const void *src, size_t bytes, conf_error_t *err)
{
    cudaError_t e = cudaDeviceSynchronize();
    if (e != cudaSuccess)
        return cuda_fail(err, "cudaDeviceSynchronize after the call", e);
    e = bytes ? cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost) : cudaSuccess;
    return e == cudaSuccess ? 0 : cuda_fail(err, "cudaMemcpy device to host", e);
}

static void cuda_release(void *ptr)
{
    if (ptr)
        cudaFree(ptr);
}

static int cuda_devices(void)
{
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess)
        return 0;
    return count;
}

static int cuda_use_device(int device, conf_error_t *err)
{
    cudaError_t e = cudaSetDevice(device);
    return e == cudaSuccess ? 0 : cuda_fail(err, "cudaSetDevice", e);
}

const conf_memspace_t conf_cuda_memspace = {"cuda",        cuda_available, cuda_alloc,
                                            cuda_upload,   cuda_download,  cuda_release,
                                            cuda_devices,  cuda_use_device};
