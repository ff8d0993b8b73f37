/*
 * smem_tiles.cuh: loading tiles of rows into shared memory with cp.async, 16 bytes at a time:
 * the padded layout of the mma.sync kernels (row pitch D + 8 elements) and the 128-byte swizzled
 * layout of the wgmma kernels, and the wait that hands a warp's swizzled copies to wgmma.
 */
#ifndef PATTN_CUDA_SMEM_TILES_CUH
#define PATTN_CUDA_SMEM_TILES_CUH

#include "device_common.cuh"
#include "mma_ops.cuh"
#include "wgmma_ops.cuh"

namespace pattn {

/* Loads ROWS rows of D columns at global positions base.. of span s into shared memory (pitch
 * D + 8); rows the span does not hold, and columns >= dcols, become zeros. TPR threads share a
 * row, each copying 16 bytes of every 8 * TPR columns, so a thread computes one address per row. */
template <typename T, int ROWS, int D, int THREADS>
__device__ __forceinline__ void load_tile(T *smem, const T *g, int64_t stride, int dcols,
                                          int base, const Span &s)
{
    constexpr int TPR = D % 64 == 0 ? 8 : 4;
    constexpr int RSTEP = THREADS / TPR;
    static_assert(ROWS % RSTEP == 0, "tile rows must be a multiple of the rows per pass");
    const int ch0 = (int)threadIdx.x % TPR, r0 = (int)threadIdx.x / TPR;
#pragma unroll
    for (int i = 0; i < ROWS / RSTEP; ++i) {
        const int row = r0 + i * RSTEP;
        const int src_row = span_row(s, base + row);
        const T *src = g + (int64_t)max(src_row, 0) * stride;
#pragma unroll
        for (int cj = 0; cj < D / (8 * TPR); ++cj) {
            const int col = (ch0 + cj * TPR) * 8;
            cp_async16(smem + row * (D + 8) + col, src + col, src_row >= 0 && col < dcols ? 16 : 0);
        }
    }
}

/* Loads ROWS rows of D columns at global positions base.. of span s into a 128-byte swizzled
 * tile (wgmma_ops.cuh) at dst, rows the span does not hold becoming zeros: THREADS threads,
 * this one numbered tid, copy 16 bytes at a time, UNROLL copies per loop trip (all of a
 * thread's by default; a single warp copying a whole tile unrolls less, or its addresses spill). */
template <typename T, int ROWS, int D, int THREADS, int UNROLL = ROWS * (D / 8) / THREADS>
__device__ __forceinline__ void load_tile_sw128(unsigned char *dst, const T *g, int64_t stride,
                                                int base, const Span &s, int tid)
{
    constexpr int CPR = D / 8; /* 16-byte chunks per row */
    static_assert((ROWS * CPR) % THREADS == 0, "tile chunks must be a multiple of the threads");
#pragma unroll UNROLL
    for (int i = 0; i < ROWS * CPR / THREADS; ++i) {
        const int idx = tid + i * THREADS;
        const int row = idx / CPR, c = idx % CPR;
        const int src_row = span_row(s, base + row);
        const T *src = g + (int64_t)max(src_row, 0) * stride + c * 8;
        cp_async16(dst + sw128_offset(ROWS, row, c), src, src_row >= 0 ? 16 : 0);
    }
}

/* One warp's load_tile_sw128 copies, all issued: waits for them and makes them visible to wgmma
 * (the async proxy) and to the whole warp, after which its lane 0 may arrive on the tiles'
 * "full" barriers (the warp-specialised kernels' path for tiles TMA may not load). */
__device__ __forceinline__ void warp_tiles_landed()
{
    cp_async_commit();
    cp_async_wait_all();
    fence_proxy_async();
    __syncwarp();
}

/* ldmatrix lane addressing in the padded layout: (a_row, a_col) for A operands and transposed
 * B operands (x4: rows 0-15 x columns 0-15 in the order a0..a3); (b_row, b_col) for B operands
 * stored n x k (n 0-7 k 0-15, then n 8-15). */
struct LdsmLane {
    int a_row, a_col, b_row, b_col;
};
__device__ __forceinline__ LdsmLane ldsm_lane()
{
    const int lane = threadIdx.x % 32;
    return LdsmLane{(lane % 8) + ((lane / 8) % 2) * 8, (lane / 16) * 8, (lane % 8) + (lane / 16) * 8,
                    ((lane / 8) % 2) * 8};
}

} // namespace pattn

#endif /* PATTN_CUDA_SMEM_TILES_CUH */
