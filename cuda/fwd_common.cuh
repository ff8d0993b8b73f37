/*
 * fwd_common.cuh: device helpers every forward kernel shares: which (item, sample, head) a CTA
 * runs, the key tiles of an item and their masks, the LSE of a row and the fp32 LSE merge of
 * ACCUMULATE mode, and dtype conversions.
 */
#ifndef PATTN_CUDA_FWD_COMMON_CUH
#define PATTN_CUDA_FWD_COMMON_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math_constants.h>

#include "fwd_args.h"

namespace pattn {

/* What one CTA runs. */
struct CtaWork {
    const pattn_cuda_item_t *item;
    int b;    /* sample: rows of b * q_sample_rows onwards */
    int h;    /* query head */
    int unit; /* dropout's b: the packed sequence, or the sample */
};

__device__ __forceinline__ CtaWork cta_work(const pattn_cuda_fwd_launch_t &L)
{
    const int x = blockIdx.x, n = L.num_items;
    CtaWork w;
    w.item = &L.items[x % n];
    w.h = (x / n) % L.a.Hq;
    w.b = x / (n * L.a.Hq);
    w.unit = w.item->unit >= 0 ? w.item->unit : w.b;
    return w;
}

/* The key tiles of an item: tiles of bc keys at global positions that are multiples of bc,
 * covering each run up to the last key its causal mask lets the item's last query row see. */
struct KeyTiles {
    int first[2]; /* global position of each run's first tile */
    int count[2];
    int total;
};

__device__ __forceinline__ KeyTiles key_tiles(const pattn_cuda_item_t &it, int bc)
{
    KeyTiles kt;
    const int q_last = it.q_pos + it.q_len - 1;
#pragma unroll
    for (int i = 0; i < 2; ++i) {
        kt.first[i] = 0;
        kt.count[i] = 0;
        if (i < it.num_runs) {
            const pattn_cuda_run_t &run = it.runs[i];
            int end = run.pos + run.len;
            if (run.causal)
                end = min(end, q_last + run.shift + 1);
            kt.first[i] = run.pos / bc * bc;
            kt.count[i] = end > run.pos ? (end - kt.first[i] + bc - 1) / bc : 0;
        }
    }
    kt.total = kt.count[0] + kt.count[1];
    return kt;
}

/* Tile j of the item (0 <= j < total): run 0's tiles from the last to the first, then run 1's,
 * so the tiles that need a mask come first. */
__device__ __forceinline__ void key_tile_at(const KeyTiles &kt, int j, int bc, int &run, int &base)
{
    if (j < kt.count[0]) {
        run = 0;
        base = kt.first[0] + (kt.count[0] - 1 - j) * bc;
    } else {
        run = 1;
        base = kt.first[1] + (kt.count[1] - 1 - (j - kt.count[0])) * bc;
    }
}

/* Whether some key of the tile at base is hidden from some row at or after query position
 * q_first: a key outside the run, or one past the causal limit. */
__device__ __forceinline__ bool tile_needs_mask(const pattn_cuda_run_t &run, int base, int bc,
                                                int q_first)
{
    return base < run.pos || base + bc > run.pos + run.len ||
           (run.causal && base + bc - 1 > q_first + run.shift);
}

__device__ __forceinline__ bool key_visible(const pattn_cuda_run_t &run, int qpos, int kpos)
{
    return kpos >= run.pos && kpos < run.pos + run.len && (!run.causal || kpos <= qpos + run.shift);
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

__device__ __forceinline__ Span query_span(const pattn_cuda_item_t &it)
{
    return Span{it.q_row, it.q_pos, it.q_len};
}

__device__ __forceinline__ Span key_span(const pattn_cuda_run_t &run)
{
    return Span{run.row, run.pos, run.len};
}

__device__ __forceinline__ float ex2(float x)
{
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}

/* Natural-log LSE of a row from its running max m (raw score units) and sum l. */
__device__ __forceinline__ float row_lse(float m, float l, float scale)
{
    return l > 0.f ? m * scale + logf(l) : -CUDART_INF_F;
}

/* Weights of merging a partial (lse_b) into a running result (lse_a), exactly as
 * pattn_lse_merge (core/lse_merge.h): o = wa * o_a + wb * o_b; returns the merged lse. */
__device__ __forceinline__ float merge_weights(float la, float lb, float &wa, float &wb)
{
    if (lb == -CUDART_INF_F) {
        wa = 1.f;
        wb = 0.f;
        return la;
    }
    if (la == -CUDART_INF_F) {
        wa = 0.f;
        wb = 1.f;
        return lb;
    }
    /* Weights from the lse difference, not from the rounded merged lse (as the core does). */
    const float mx = fmaxf(la, lb);
    const float ea = expf(la - mx), eb = expf(lb - mx), sum = ea + eb;
    wa = ea / sum;
    wb = eb / sum;
    return mx + logf(sum);
}

/* One merged accumulator element (o_a is not read when wa == 0: the first partial of a row). */
__device__ __forceinline__ float merged(float wa, float oa, float wb, float ob)
{
    return wa == 0.f ? wb * ob : wa * oa + wb * ob;
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

} // namespace pattn

#endif /* PATTN_CUDA_FWD_COMMON_CUH */
