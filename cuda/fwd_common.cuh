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
#include "lse_merge.h"
#include "mma_ops.cuh"

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

/*
 * The end of one query row, shared by every kernel: the row's local index t (-1: a padding row
 * of the tile), its lse, the factor that normalises its output, and where output and lse go.
 * FINAL stores o * inv in the dtype and the row's lse; ACCUMULATE merges o * inv into the fp32
 * accumulator with the merged lse (core/lse_merge.h, the same merge as the reference's ring).
 * Use: e = row_end(...) by every thread holding part of the row, store2/store1 for each of its
 * elements, then commit_lse(e, owner) with exactly one owner per row, after the warp has
 * stored (the old lse is read in row_end).
 */
struct RowEnd {
    int t;
    float inv;     /* keep_scale / sum, or 0 for a row that saw no key */
    float lse_out; /* FINAL: the row's lse; ACCUMULATE: the merged lse */
    float wa, wb;  /* ACCUMULATE: the merge weights of the accumulator and of this partial */
    bool store;    /* whether this row's output elements are written */
    float *lse_p;
    int64_t out_off;
};

__device__ __forceinline__ RowEnd row_end(const pattn_cuda_fwd_args_t &a, const CtaWork &w,
                                          const pattn_cuda_item_t &it, int qpos, float m,
                                          float sum)
{
    RowEnd e;
    e.t = span_row(query_span(it), qpos);
    const float lse_b = row_lse(m, sum, a.scale);
    e.inv = sum > 0.f ? a.keep_scale / sum : 0.f;
    e.lse_p = a.lse + (int64_t)w.b * a.lse_sample_stride + (int64_t)w.h * a.lse_head_stride + e.t;
    e.out_off = ((int64_t)w.b * a.q_sample_rows + e.t) * a.out_stride + (int64_t)w.h * a.D;
    if (a.mode == PATTN_CUDA_FINAL) {
        e.lse_out = lse_b;
        e.wa = 0.f;
        e.wb = 1.f;
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
template <typename T>
__device__ __forceinline__ void row_store2(const pattn_cuda_fwd_args_t &a, const RowEnd &e, int d,
                                           float o0, float o1)
{
    if (a.mode == PATTN_CUDA_FINAL) {
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
template <typename T>
__device__ __forceinline__ void row_store1(const pattn_cuda_fwd_args_t &a, const RowEnd &e, int d,
                                           float o)
{
    if (a.mode == PATTN_CUDA_FINAL) {
        static_cast<T *>(a.out)[e.out_off + d] = from_float<T>(o * e.inv);
    } else {
        float *acc = static_cast<float *>(a.out) + e.out_off + d;
        *acc = pattn_lse_merged(e.wa, *acc, e.wb, o * e.inv);
    }
}

/* Writes the row's lse (call after __syncwarp, from the row's one owner thread). */
__device__ __forceinline__ void commit_lse(const RowEnd &e, bool owner)
{
    if (owner && e.t >= 0)
        *e.lse_p = e.lse_out;
}

} // namespace pattn

#endif /* PATTN_CUDA_FWD_COMMON_CUH */
