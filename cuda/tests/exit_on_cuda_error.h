/*
 * exit_on_cuda_error.h: EXIT_ON_CUDA_ERROR(call) for the standalone GPU test programs
 * (cuda-selftest, wgmma-probe): a failed CUDA runtime call prints where and why, then exits 1.
 */
#ifndef PATTN_EXIT_ON_CUDA_ERROR_H
#define PATTN_EXIT_ON_CUDA_ERROR_H

#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>

#define EXIT_ON_CUDA_ERROR(call)                                                                   \
    do {                                                                                           \
        cudaError_t e_ = (call);                                                                   \
        if (e_ != cudaSuccess) {                                                                   \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

#endif /* PATTN_EXIT_ON_CUDA_ERROR_H */
