/*
 * fwd_epilogue.cuh: the end of one query row, shared by every forward kernel, with the output
 * mode a compile-time parameter (so that FINAL carries none of ACCUMULATE's live values):
 * FINAL stores o * inv in the dtype and the row's lse; ACCUMULATE merges o * inv into the fp32
 * accumulator with the merged lse (core/lse_merge.h, the same merge as the reference's ring).
 * Use: e = row_end<MODE>(...) by every thread holding part of the row, row_store2/row_store1
 * for each of its elements, then commit_lse(e, owner) with exactly one owner per row, after
 * the warp has stored (ACCUMULATE reads the old lse in row_end).
 */
#ifndef PATTN_CUDA_FWD_EPILOGUE_CUH
#define PATTN_CUDA_FWD_EPILOGUE_CUH

#include "device_common.cuh"
#include "lse_merge.h"
#include "mma_ops.cuh"

namespace pattn {

/* Natural-log LSE of a row from its running max m (raw score units) and sum l: -inf for a row
 * that saw no key (l = 0); a NaN sum (a NaN or infinity in the inputs) stays NaN (SPEC 1). */
__device__ __forceinline__ float row_lse(float m, float l, float scale)
{
    return l == 0.f ? -CUDART_INF_F : m * scale + logf(l);
}

template <int MODE> struct RowEnd {
    int t;         /* the row's local index, -1 for a padding row of the tile */
    float inv;     /* keep_scale / sum, 0 for a row that saw no key, NaN for a NaN sum */
    float lse_out; /* FINAL: the row's lse; ACCUMULATE: the merged lse */
    float wa, wb;  /* ACCUMULATE: the merge weights of the accumulator and of this partial */
    bool store;    /* whether this row's output elements are written */
    float *lse_p;
    int64_t out_off;
};

template <int MODE>
__device__ __forceinline__ RowEnd<MODE> row_end(const pattn_cuda_fwd_args_t &a, const Cta &w,
                                                const Span &rows, int qpos, float m, float sum)
{
    RowEnd<MODE> e;
    e.t = span_row(rows, qpos);
    const float lse_b = row_lse(m, sum, a.scale);
    e.inv = sum == 0.f ? 0.f : a.drop.keep_scale / sum;
    e.lse_p = a.lse + (int64_t)w.b * a.lse_sample_stride + (int64_t)w.h * a.lse_head_stride + e.t;
    e.out_off = ((int64_t)w.b * a.sample_rows + e.t) * a.out_stride + (int64_t)w.h * a.D;
    if constexpr (MODE == PATTN_CUDA_FINAL) {
        e.lse_out = lse_b;
        e.store = e.t >= 0;
    } else {
        const float la = e.t >= 0 ? *e.lse_p : -CUDART_INF_F;
        e.lse_out = pattn_lse_merge_weights(la, lse_b, &e.wa, &e.wb);
        e.store = e.t >= 0 && lse_b != -CUDART_INF_F;
    }
    return e;
}

/* Stores this thread's output elements d and d + 1 (unnormalised o0, o1) of the row; T is a
 * 16-bit dtype (one 32-bit store in FINAL). */
template <typename T, int MODE>
__device__ __forceinline__ void row_store2(const pattn_cuda_fwd_args_t &a, const RowEnd<MODE> &e,
                                           int d, float o0, float o1)
{
    if constexpr (MODE == PATTN_CUDA_FINAL) {
        T *out = static_cast<T *>(a.out) + e.out_off + d;
        *reinterpret_cast<uint32_t *>(out) = Mma<T>::pack(o0 * e.inv, o1 * e.inv);
    } else {
        float2 *acc = reinterpret_cast<float2 *>(static_cast<float *>(a.out) + e.out_off + d);
        float2 v = *acc;
        v.x = pattn_lse_merged(e.wa, v.x, e.wb, o0 * e.inv);
        v.y = pattn_lse_merged(e.wa, v.y, e.wb, o1 * e.inv);
        *acc = v;
    }
}

/* Stores this thread's output element d (unnormalised o) of the row. */
template <typename T, int MODE>
__device__ __forceinline__ void row_store1(const pattn_cuda_fwd_args_t &a, const RowEnd<MODE> &e,
                                           int d, float o)
{
    if constexpr (MODE == PATTN_CUDA_FINAL) {
        static_cast<T *>(a.out)[e.out_off + d] = from_float<T>(o * e.inv);
    } else {
        float *acc = static_cast<float *>(a.out) + e.out_off + d;
        *acc = pattn_lse_merged(e.wa, *acc, e.wb, o * e.inv);
    }
}

/* Writes the row's lse (call after __syncwarp, from the row's one owner thread). */
template <int MODE> __device__ __forceinline__ void commit_lse(const RowEnd<MODE> &e, bool owner)
{
    if (owner && e.t >= 0)
        *e.lse_p = e.lse_out;
}

/* The epilogue of a warp's m16n8 accumulator tile of O (DT 8-column chunks) for the rows at
 * row0 + lane/4 + 8 hh of span rows (the item's query rows), with their running maxima m and
 * sums l (per thread: the quad's sum is reduced here). T is a 16-bit dtype. */
template <typename T, int MODE, int DT>
__device__ __forceinline__ void store_rows(const pattn_cuda_fwd_args_t &a, const Cta &w,
                                           const Span &rows, int row0, const float (&o)[DT][4],
                                           const float (&m)[2], const float (&l)[2])
{
    const int lane = threadIdx.x % 32;
#pragma unroll
    for (int hh = 0; hh < 2; ++hh) {
        float sum = l[hh];
        sum += __shfl_xor_sync(0xffffffffu, sum, 1);
        sum += __shfl_xor_sync(0xffffffffu, sum, 2);
        const RowEnd<MODE> e = row_end<MODE>(a, w, rows, row0 + lane / 4 + 8 * hh, m[hh], sum);
        if (e.store)
#pragma unroll
            for (int dt = 0; dt < DT; ++dt) {
                const int d = dt * 8 + 2 * (lane % 4);
                if (d < a.D)
                    row_store2<T, MODE>(a, e, d, o[dt][2 * hh], o[dt][2 * hh + 1]);
            }
        __syncwarp(); /* the quad has read the old lse (ACCUMULATE) */
        commit_lse<MODE>(e, lane % 4 == 0);
    }
}

} // namespace pattn

#endif /* PATTN_CUDA_FWD_EPILOGUE_CUH */
