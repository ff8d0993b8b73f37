/*
 * bwd_epilogue.cuh: where the backward kernels put their gradients: rows of dQ, dK or dV, scaled,
 * stored in the dtype (FINAL) or added into an fp32 accumulator (ACCUMULATE, the ring's). Each
 * element has exactly one writer per launch, so the sums are in a fixed order.
 */
#ifndef PATTN_CUDA_BWD_EPILOGUE_CUH
#define PATTN_CUDA_BWD_EPILOGUE_CUH

#include "device_common.cuh"
#include "mma_ops.cuh"

namespace pattn {

/* Elements d and d + 1 of a gradient row at base (element offset off): f * (g0, g1). */
template <typename T>
__device__ __forceinline__ void grad_store2(void *base, int64_t off, int accumulate, float g0,
                                            float g1)
{
    if (accumulate) {
        float2 *p = reinterpret_cast<float2 *>(static_cast<float *>(base) + off);
        float2 v = *p;
        v.x += g0;
        v.y += g1;
        *p = v;
    } else {
        *reinterpret_cast<uint32_t *>(static_cast<T *>(base) + off) = Mma<T>::pack(g0, g1);
    }
}

template <typename T>
__device__ __forceinline__ void grad_store1(void *base, int64_t off, int accumulate, float g)
{
    if (accumulate)
        static_cast<float *>(base)[off] += g;
    else
        static_cast<T *>(base)[off] = from_float<T>(g);
}

/* A warp's m16n8 accumulator tile of a gradient (DT 8-column chunks starting at column col0 of
 * head h's D columns), times f, for the tile rows at row0 + lane/4 + 8 hh of span s: row t of
 * sample b at base[(b * sample_rows + t) * stride + h * D + col]. T is a 16-bit dtype. */
template <typename T, int DT>
__device__ __forceinline__ void grad_store_rows(void *base, int64_t stride, int64_t sample_rows,
                                                int accumulate, int b, int h, int D, int col0,
                                                const Span &s, int row0, const float (&g)[DT][4],
                                                float f)
{
    const int lane = threadIdx.x % 32;
#pragma unroll
    for (int hh = 0; hh < 2; ++hh) {
        const int t = span_row(s, row0 + lane / 4 + 8 * hh);
        if (t < 0)
            continue;
        const int64_t row_off = ((int64_t)b * sample_rows + t) * stride + (int64_t)h * D;
#pragma unroll
        for (int dt = 0; dt < DT; ++dt) {
            const int d = col0 + dt * 8 + 2 * (lane % 4);
            if (d < D)
                grad_store2<T>(base, row_off + d, accumulate, f * g[dt][2 * hh],
                               f * g[dt][2 * hh + 1]);
        }
    }
}

} // namespace pattn

#endif /* PATTN_CUDA_BWD_EPILOGUE_CUH */
