/*
 * device_common.cuh: device helpers every kernel shares: which (item, sample, head) a CTA runs,
 * spans of rows and the sub-tiles of an item's runs (with core/mask.h's spans), dtype
 * conversions, and the base pointer of a head's rows.
 */
#ifndef PATTN_CUDA_DEVICE_COMMON_CUH
#define PATTN_CUDA_DEVICE_COMMON_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math_constants.h>

#include "items.h"
#include "kernel_args.h"

namespace pattn {

/* What one CTA runs: CTA x takes item x % num_items, head (x / num_items) % heads and sample
 * x / (num_items * heads) (kernel_args.h). */
struct Cta {
    const pattn_item_t *item;
    int b;    /* sample: rows b * sample_rows onwards */
    int h;    /* head (query heads, or KV head x output-column chunk for dK/dV) */
    int unit; /* dropout's b: the packed sequence, or the sample */
};

/* Copies the CTA's item into shared memory (all threads call it; it ends in a barrier). Read from
 * there, its fields need not stay in registers across a kernel's main loop, where loads from
 * global memory are hoisted into registers held for the whole loop; whether that pays depends on
 * the kernel (ptxas's spills decide: the wgmma forward stages, the mma.sync kernels do not). */
__device__ __forceinline__ void stage_item(pattn_item_t &dst, const pattn_item_t *src)
{
    constexpr int WORDS = (int)(sizeof(pattn_item_t) / 4);
    static_assert(sizeof(pattn_item_t) % 4 == 0, "an item is 32-bit words");
    if ((int)threadIdx.x < WORDS)
        reinterpret_cast<int32_t *>(&dst)[threadIdx.x] =
            reinterpret_cast<const int32_t *>(src)[threadIdx.x];
    __syncthreads();
}

/* Work x of a launch (x < num_items * heads * samples): what CTA x runs, or what a persistent
 * CTA runs when its turn comes to x. */
__device__ __forceinline__ Cta cta_at(const pattn_item_t *items, int num_items, int heads, int x)
{
    Cta c;
    c.item = items + x % num_items;
    c.h = (x / num_items) % heads;
    c.b = x / (num_items * heads);
    c.unit = c.item->unit >= 0 ? c.item->unit : c.b;
    return c;
}

__device__ __forceinline__ Cta cta_of(const pattn_item_t *items, int num_items, int heads)
{
    return cta_at(items, num_items, heads, (int)blockIdx.x);
}

/* A span of consecutive local rows with consecutive global positions. */
struct Span {
    int row, pos, len;
};

/* Local row of global position pos in span s, or -1 when s does not hold it. */
__device__ __forceinline__ int span_row(const Span &s, int pos)
{
    const int off = pos - s.pos;
    return off >= 0 && off < s.len ? s.row + off : -1;
}

/* Whether span s holds every position of [base, base + n) (then TMA may load those rows). */
__device__ __forceinline__ bool span_holds(const Span &s, int base, int n)
{
    return base >= s.pos && base + n <= s.pos + s.len;
}

/* Row of the whole buffer (samples of sample_rows rows) of global position pos, placed as span
 * s of sample b places its positions: the row need not lie in s, nor in the buffer (TMA
 * zero-fills rows outside it). */
__device__ __forceinline__ int buffer_row(int b, int64_t sample_rows, const Span &s, int pos)
{
    return (int)(b * sample_rows) + s.row + (pos - s.pos);
}

__device__ __forceinline__ Span tile_span(const pattn_item_t &it) { return Span{it.row, it.pos, it.len}; }
__device__ __forceinline__ Span run_span(const pattn_item_run_t &r) { return Span{r.row, r.pos, r.len}; }

/* The sub-tiles of the other side that an item meets: tiles of bc positions at global multiples
 * of bc covering, for each run, the positions some row of the tile sees (pattn_item_span). */
struct SubTiles {
    int first[PATTN_MAX_RUNS]; /* position of each run's first sub-tile */
    int count[PATTN_MAX_RUNS];
    int total;
};

template <pattn_orient_t O>
__device__ __forceinline__ SubTiles sub_tiles(const pattn_item_t &it, int bc)
{
    SubTiles st;
    st.total = 0;
#pragma unroll
    for (int i = 0; i < PATTN_MAX_RUNS; ++i) {
        st.first[i] = 0;
        st.count[i] = 0;
        if (i < it.num_runs) {
            int64_t lo, hi;
            pattn_item_span(&it, &it.runs[i], O, 0, &lo, &hi);
            st.first[i] = (int)(lo / bc * bc);
            st.count[i] = hi > lo ? (int)((hi - st.first[i] + bc - 1) / bc) : 0;
        }
        st.total += st.count[i];
    }
    return st;
}

/* Sub-tile j (0 <= j < total): run 0's from the last to the first, then run 1's, so that the
 * forward meets the sub-tiles that need a mask first. */
__device__ __forceinline__ void sub_tile_at(const SubTiles &st, int j, int bc, int &run, int &base)
{
    static_assert(PATTN_MAX_RUNS == 2, "two runs: selected, not indexed (an index would put the "
                                       "arrays in local memory)");
    run = j < st.count[0] ? 0 : 1;
    const int i = run == 0 ? j : j - st.count[0];
    const int first = run == 0 ? st.first[0] : st.first[1];
    const int count = run == 0 ? st.count[0] : st.count[1];
    base = first + (count - 1 - i) * bc;
}

/* Whether some pair of the sub-tile [base, base + bc) of run r with the tile's valid rows
 * [pos, pos + len) is hidden: a position outside what every row sees (pattn_visible_span,
 * every = 1). */
template <pattn_orient_t O>
__device__ __forceinline__ bool sub_tile_needs_mask(int pos, int len, const pattn_item_run_t &r,
                                                    int base, int bc)
{
    int lo, hi;
    pattn_visible_span32(O, r.causal, r.shift, pos, len, 1, r.pos, r.len, &lo, &hi);
    return base < lo || base + bc > hi;
}

__device__ __forceinline__ float ex2(float x)
{
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}

template <typename T> __device__ __forceinline__ float to_float(T x);
template <> __device__ __forceinline__ float to_float<float>(float x) { return x; }
template <> __device__ __forceinline__ float to_float<__half>(__half x) { return __half2float(x); }
template <> __device__ __forceinline__ float to_float<__nv_bfloat16>(__nv_bfloat16 x)
{
    return __bfloat162float(x);
}

template <typename T> __device__ __forceinline__ T from_float(float x);
template <> __device__ __forceinline__ float from_float<float>(float x) { return x; }
template <> __device__ __forceinline__ __half from_float<__half>(float x) { return __float2half_rn(x); }
template <> __device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float x)
{
    return __float2bfloat16_rn(x);
}

/* Head h's columns of sample b in an array of rows: base + (b * sample_rows) * stride + h * D. */
template <typename T>
__device__ __forceinline__ T *head_rows(const void *base, int64_t stride, int64_t sample_rows,
                                        int b, int h, int D)
{
    return static_cast<T *>(const_cast<void *>(base)) + (int64_t)b * sample_rows * stride +
           (int64_t)h * D;
}

/* A row's lse in base-2 units for P = exp2(s * scale_log2 - lse2): +inf for a row that saw no
 * key (lse = -inf), so that its P is 0. */
__device__ __forceinline__ float lse_log2(float lse)
{
    return lse == -CUDART_INF_F ? CUDART_INF_F : lse * 1.4426950408889634f;
}

} // namespace pattn

#endif /* PATTN_CUDA_DEVICE_COMMON_CUH */
