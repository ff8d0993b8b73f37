/*
 * simt_common.cuh: what the general (CUDA-core, fp32) kernels share: rows of a dtype array
 * loaded into shared memory as fp32, warp reductions, and one pair's visibility from the item's
 * run (core/mask.h).
 */
#ifndef PATTN_CUDA_SIMT_COMMON_CUH
#define PATTN_CUDA_SIMT_COMMON_CUH

#include "device_common.cuh"

namespace pattn {

/* Rows base.. of span s, columns < dcols, as fp32 into smem (pitch ld); zeros elsewhere. */
template <int THREADS, typename T>
__device__ void load_rows_f32(float *smem, int ld, int rows, int dp, const T *g, int64_t stride,
                              int dcols, int base, const Span &s)
{
    for (int c = threadIdx.x; c < rows * dp; c += THREADS) {
        const int row = c / dp, d = c % dp;
        const int src = span_row(s, base + row);
        smem[row * ld + d] = src >= 0 && d < dcols ? to_float(g[(int64_t)src * stride + d]) : 0.f;
    }
}

__device__ __forceinline__ float warp_max(float x)
{
#pragma unroll
    for (int o = 16; o > 0; o /= 2)
        x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, o));
    return x;
}

__device__ __forceinline__ float warp_sum(float x)
{
#pragma unroll
    for (int o = 16; o > 0; o /= 2)
        x += __shfl_xor_sync(0xffffffffu, x, o);
    return x;
}

/* Whether the pair of fixed-side position x (a query when O is QUERY_MAJOR, a key when
 * KEY_MAJOR) and other-side position y of run r is visible. */
template <pattn_orient_t O>
__device__ __forceinline__ bool simt_visible(const pattn_item_run_t &r, int x, int y)
{
    int lo, hi;
    pattn_visible_span32(O, r.causal, r.shift, x, 1, 0, r.pos, r.len, &lo, &hi);
    return y >= lo && y < hi;
}

} // namespace pattn

#endif /* PATTN_CUDA_SIMT_COMMON_CUH */
