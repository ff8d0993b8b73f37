/*
 * bwd_dkdv_mma.cuh: the backward's dK/dV pass on mma.sync m16n8k16 (fp16/bf16 in, fp32
 * accumulate), key-major: one CTA runs one key tile (a key-major work item) of one KV head and
 * one chunk of the output columns, and walks the query sub-tiles of its item's runs for each of
 * the r query heads that read that KV head, so dK and dV are summed in registers over the whole
 * ring step (GQA without expanding K/V) and stored once.
 *
 * Everything is computed transposed (rows = the warp's 16 keys, columns = queries), so P^T and
 * dS^T are the A operands of the next products straight from registers:
 *   S^T = K Q^T;  P^T = exp2(S^T scale log2(e) - lse2) (masked), Z the regenerated dropout
 *   mask (fragment.cuh, key-major layout), s = keep_scale;
 *   dP^T = V dO^T;  dS^T = P^T (dP^T Z s - D);  dK += dS^T Q (scale last);  dV += (P^T Z s) dO.
 * K and V stay in shared memory; Q, dO, lse2 and D of the query sub-tiles are double-buffered.
 */
#ifndef PATTN_CUDA_BWD_DKDV_MMA_CUH
#define PATTN_CUDA_BWD_DKDV_MMA_CUH

#include <cuda_runtime.h>

#include "bwd_epilogue.cuh"
#include "config.h"
#include "fragment.cuh"
#include "launch.cuh"
#include "mma_products.cuh"
#include "smem_tiles.cuh"

namespace pattn {

template <typename T, class C, bool DROPOUT>
__global__ void __launch_bounds__(C::THREADS, 1)
    bwd_dkdv_mma_kernel(const __grid_constant__ pattn_cuda_bwd_args_t a)
{
    constexpr int D = C::D, BQ = C::BQ, BK = C::ROWS, S = C::PITCH, DC = C::DC;
    constexpr int NT = BQ / 8;  /* 8-query chunks of S^T */
    constexpr int DT = DC / 8;  /* 8-column chunks of dK and dV */
    static_assert(BK % 32 == 0 && BQ % 16 == 0, "whole 16 x 32 dropout tiles");
    extern __shared__ __align__(16) unsigned char smem_raw[];
    T *const sK = reinterpret_cast<T *>(smem_raw);
    T *const sV = sK + BK * S;
    T *const sQ0 = sV + BK * S; /* Q and dO of step j live in buffer j % 2 */
    T *const sO0 = sQ0 + 2 * BQ * S;
    float *const sL0 = reinterpret_cast<float *>(sO0 + 2 * BQ * S); /* lse2, then D */
    float *const sD0 = sL0 + 2 * BQ;
    /* dropout's pair exchange (keep_key_major), two sets; named barriers 1.. of the pairs */
    static_assert(C::NW % 2 == 0 && 1 + C::NW / 2 <= 16, "warps in pairs, a named barrier each");
    __shared__ uint32_t keep_pairs[DROPOUT ? key_pair_exchange_words<NT>(C::NW) : 1];

    const Cta w = cta_of(a.items, a.num_items, (a.Hq / a.r) * C::NC);
    const pattn_item_t &it = *w.item;
    const int g = w.h / C::NC, col0 = (w.h % C::NC) * DC; /* KV head, first output column */
    const int kw = (threadIdx.x / 32) * 16;                 /* the warp's first key in the tile */
    const LdsmLane ln = ldsm_lane();

    const T *kg = head_rows<const T>(a.kv.k, a.kv.stride, a.kv.sample_rows, w.b, g, a.D);
    const T *vg = head_rows<const T>(a.kv.v, a.kv.stride, a.kv.sample_rows, w.b, g, a.D);
    load_tile<T, BK, D, C::THREADS>(sK, kg, a.kv.stride, a.D, it.tile_pos, tile_span(it));
    load_tile<T, BK, D, C::THREADS>(sV, vg, a.kv.stride, a.D, it.tile_pos, tile_span(it));

    /* Step j: query head g r + j / qt.total, query sub-tile j % qt.total. */
    const SubTiles qt = sub_tiles<PATTN_KEY_MAJOR>(it, BQ);
    const int steps = qt.total * a.r;
    auto load_step = [&](int j) {
        int run_i, qbase;
        sub_tile_at(qt, j % qt.total, BQ, run_i, qbase);
        const int h = g * a.r + j / qt.total;
        const Span span = run_span(it.runs[run_i]);
        const int buf = j % 2;
        load_tile<T, BQ, D, C::THREADS>(sQ0 + buf * BQ * S,
                                        head_rows<const T>(a.q, a.q_stride, a.sample_rows, w.b, h, a.D),
                                        a.q_stride, a.D, qbase, span);
        load_tile<T, BQ, D, C::THREADS>(sO0 + buf * BQ * S,
                                        head_rows<const T>(a.dout, a.dout_stride, a.sample_rows, w.b, h, a.D),
                                        a.dout_stride, a.D, qbase, span);
        cp_async_commit();
        for (int i = threadIdx.x; i < BQ; i += C::THREADS) {
            const int t = span_row(span, qbase + i);
            const int64_t at = (int64_t)w.b * a.lse_sample_stride + (int64_t)h * a.lse_head_stride + t;
            sL0[buf * BQ + i] = t >= 0 ? lse_log2(a.lse[at]) : CUDART_INF_F;
            sD0[buf * BQ + i] = t >= 0 ? a.dsum[at] : 0.f;
        }
    };
    if (steps > 0)
        load_step(0);

    float dk[DT][4], dv[DT][4];
    zero(dk);
    zero(dv);
    const int row0 = it.tile_pos + kw;
    for (int j = 0; j < steps; ++j) {
        int run_i, qbase;
        sub_tile_at(qt, j % qt.total, BQ, run_i, qbase);
        const int h = g * a.r + j / qt.total;
        const pattn_item_run_t &run = it.runs[run_i];
        const T *const sQ = sQ0 + (j % 2) * BQ * S;
        const T *const sO = sO0 + (j % 2) * BQ * S;
        const float *const sL = sL0 + (j % 2) * BQ, *const sD = sD0 + (j % 2) * BQ;
        cp_async_wait_all();
        __syncthreads(); /* step j landed (K, V too); every warp is done with step j - 1 */
        if (j + 1 < steps)
            load_step(j + 1);

        float st[NT][4]; /* S^T, then P^T */
        product_abt<T, D, NT, S>(st, sK + kw * S, sQ, ln);
        const bool masked = sub_tile_needs_mask<PATTN_KEY_MAJOR>(it.pos, it.len, run, qbase, BQ);
        if (masked)
            mask_tile<PATTN_KEY_MAJOR>(st, row0, qbase, run);
        probs_by_column(st, sL, a.scale_log2, masked);

        float dpt[NT][4]; /* dP^T, then dS^T */
        product_abt<T, D, NT, S>(dpt, sV + kw * S, sO, ln);
        Keep<NT> keep;
        if (DROPOUT) {
            /* warps 2 i and 2 i + 1 share a Philox tile */
            const KeyPair pair = key_pair_at<NT>(keep_pairs, C::NW, threadIdx.x / 32, j, 1);
            keep = keep_key_major<NT>(a.drop, a.drop.offset + ((uint64_t)w.unit * a.Hq + h) * 32u,
                                      row0, qbase, pair);
            apply_keep(dpt, keep, a.drop.keep_scale);
        }
        ds_by_column(dpt, st, sD);
        product_ab<T, NT, DT, S, true>(dk, dpt, sQ, col0, ln); /* dS in two terms */
        if (DROPOUT)
            apply_keep(st, keep, a.drop.keep_scale); /* P^T Z s */
        product_ab<T, NT, DT, S>(dv, st, sO, col0, ln);
    }

    const Span keys = tile_span(it);
    grad_store_rows<T>(a.dk, a.dkv_stride, a.kv.sample_rows, a.accumulate, w.b, g, a.D, col0,
                       keys, row0, dk, a.scale);
    grad_store_rows<T>(a.dv, a.dkv_stride, a.kv.sample_rows, a.accumulate, w.b, g, a.D, col0,
                       keys, row0, dv, 1.f);
    cp_async_wait_all(); /* nothing in flight when the CTA exits */
}

template <class C> struct BwdDkdvMma {
    static constexpr bool FP32 = false;
    template <typename T, bool DROPOUT>
    static cudaError_t run(const pattn_cuda_bwd_args_t *a, cudaStream_t stream)
    {
        const int ctas = a->num_items * (a->Hq / a->r) * C::NC * a->B;
        return launch_kernel<bwd_dkdv_mma_kernel<T, C, DROPOUT>>(ctas, C::THREADS, C::SMEM, stream,
                                                                 *a);
    }
};

} // namespace pattn

/* Defines pattn_cuda_bwd_dkdv_mma_d<D> (registry.h). */
#define PATTN_DEFINE_BWD_DKDV_MMA(D_)                                                              \
    PATTN_DEFINE_LAUNCHER(bwd_dkdv_mma, D_,                                                        \
                          pattn::dispatch_bwd<pattn::BwdDkdvMma<pattn::MmaDkdv<D_>>>)

#endif /* PATTN_CUDA_BWD_DKDV_MMA_CUH */
