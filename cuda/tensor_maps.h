/*
 * tensor_maps.h: the host side of the TMA kernels (fwd_tma.cuh, bwd_tma.cuh): the tensor map of
 * a 2-D array of 16-bit (fp16/bf16) or 32-bit (fp32) rows, with boxes of 128 bytes of columns
 * (the 128-byte swizzle) by box_rows rows, and the SM count that sizes a persistent grid.
 */
#ifndef PATTN_CUDA_TENSOR_MAPS_H
#define PATTN_CUDA_TENSOR_MAPS_H

#include <cuda.h>
#include <cuda_runtime_api.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The map of `rows` rows of `cols` elements of elem_bytes (2: 16-bit, 4: fp32) at base, row_bytes
 * apart (base 16-byte aligned, row_bytes a multiple of 16); elements outside it load as zeros
 * and are left alone by reductions. cudaErrorInvalidValue when the driver refuses it (or has no
 * cuTensorMapEncodeTiled). */
cudaError_t pattn_cuda_tile_map(CUtensorMap *map, const void *base, int elem_bytes, uint64_t cols,
                                uint64_t rows, int64_t row_bytes, int box_rows);

/* The current device's SM count (asked once per device). */
cudaError_t pattn_cuda_sm_count(int *sms);

#ifdef __cplusplus
}
#endif

#endif /* PATTN_CUDA_TENSOR_MAPS_H */
