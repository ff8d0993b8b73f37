/*
 * check.h: CUDA_CHECK(call) runs a CUDA runtime call and, when it fails, returns pattnCudaError
 * from the enclosing function with a message naming the call and cudaGetErrorString. Including
 * it also declares pattn_error (core/status.h) for C and CUDA C++ files alike.
 */
#ifndef PATTN_CUDA_CHECK_H
#define PATTN_CUDA_CHECK_H

#include <cuda_runtime_api.h>

#include "status.h"

#define CUDA_CHECK(call)                                                                           \
    do {                                                                                           \
        cudaError_t cuda_check_err_ = (call);                                                      \
        if (cuda_check_err_ != cudaSuccess)                                                        \
            return pattn_error(pattnCudaError, "%s failed: %s (%s:%d)", #call,                     \
                               cudaGetErrorString(cuda_check_err_), __FILE__, __LINE__);           \
    } while (0)

#endif /* PATTN_CUDA_CHECK_H */
