/*
 * bwd_dq_mma.cuh: the backward's dQ pass on mma.sync m16n8k16, query-major like the forward:
 * one CTA runs one query tile (a query-major work item) of one query head, Q and dO in shared
 * memory, the key sub-tiles' K and V double-buffered. Per sub-tile, with the fragment layer:
 *   S = Q K^T; P = exp2(S scale log2(e) - lse2) (masked); dP = dO V^T (times Z s with dropout);
 *   dS = P (dP - D);  dQ += dS K (scale last).
 * No atomics: each dQ element is summed by one thread in sub-tile order (deterministic).
 */
#ifndef PATTN_CUDA_BWD_DQ_MMA_CUH
#define PATTN_CUDA_BWD_DQ_MMA_CUH

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
    bwd_dq_mma_kernel(const __grid_constant__ pattn_cuda_bwd_args_t a)
{
    constexpr int D = C::D, BC = C::BC, BR = C::ROWS, S = C::PITCH;
    constexpr int NT = BC / 8; /* 8-key chunks of S */
    constexpr int DT = D / 8;  /* 8-column chunks of dQ */
    static_assert(BR % 16 == 0 && BC % 32 == 0, "whole 16 x 32 dropout tiles");
    extern __shared__ __align__(16) unsigned char smem_raw[];
    T *const sQ = reinterpret_cast<T *>(smem_raw);
    T *const sO = sQ + BR * S;
    T *const sK0 = sO + BR * S; /* K and V of sub-tile j live in buffer j % 2 */
    T *const sV0 = sK0 + 2 * BC * S;

    const Cta w = cta_of(a.items, a.num_items, a.Hq);
    const pattn_item_t &it = *w.item;
    const int lane = threadIdx.x % 32, wrow = (threadIdx.x / 32) * 16;
    const int row0 = it.tile_pos + wrow;
    const LdsmLane ln = ldsm_lane();

    const T *kg = head_rows<const T>(a.kv.k, a.kv.stride, a.kv.sample_rows, w.b, w.h / a.r, a.D);
    const T *vg = head_rows<const T>(a.kv.v, a.kv.stride, a.kv.sample_rows, w.b, w.h / a.r, a.D);
    const uint64_t head_off = a.drop.offset + ((uint64_t)w.unit * a.Hq + w.h) * 32u;

    /* This thread's two rows: lse in base 2 and D (a padding row: P = 0). */
    float lse2[2], dsum[2];
#pragma unroll
    for (int hh = 0; hh < 2; ++hh) {
        const int t = span_row(tile_span(it), row0 + lane / 4 + 8 * hh);
        const int64_t at = (int64_t)w.b * a.lse_sample_stride + (int64_t)w.h * a.lse_head_stride + t;
        lse2[hh] = t >= 0 ? lse_log2(a.lse[at]) : CUDART_INF_F;
        dsum[hh] = t >= 0 ? a.dsum[at] : 0.f;
    }

    const SubTiles kt = sub_tiles<PATTN_QUERY_MAJOR>(it, BC);
    auto load_kv = [&](int j) {
        int run_i, kbase;
        sub_tile_at(kt, j, BC, run_i, kbase);
        const Span span = run_span(it.runs[run_i]);
        load_tile<T, BC, D, C::THREADS>(sK0 + (j % 2) * BC * S, kg, a.kv.stride, a.D, kbase, span);
        load_tile<T, BC, D, C::THREADS>(sV0 + (j % 2) * BC * S, vg, a.kv.stride, a.D, kbase, span);
        cp_async_commit();
    };
    if (kt.total > 0) {
        load_tile<T, BR, D, C::THREADS>(
            sQ, head_rows<const T>(a.q, a.q_stride, a.sample_rows, w.b, w.h, a.D), a.q_stride, a.D,
            it.tile_pos, tile_span(it));
        load_tile<T, BR, D, C::THREADS>(
            sO, head_rows<const T>(a.dout, a.dout_stride, a.sample_rows, w.b, w.h, a.D),
            a.dout_stride, a.D, it.tile_pos, tile_span(it));
        load_kv(0);
    }

    float dq[DT][4];
    zero(dq);
    for (int j = 0; j < kt.total; ++j) {
        int run_i, kbase;
        sub_tile_at(kt, j, BC, run_i, kbase);
        const pattn_item_run_t &run = it.runs[run_i];
        const T *const sK = sK0 + (j % 2) * BC * S;
        const T *const sV = sV0 + (j % 2) * BC * S;
        cp_async_wait_all();
        __syncthreads(); /* sub-tile j (and Q, dO) landed; every warp is done with j - 1 */
        if (j + 1 < kt.total)
            load_kv(j + 1);

        float s[NT][4]; /* S, then P */
        product_abt<T, D, NT, S>(s, sQ + wrow * S, sK, ln);
        const bool masked = sub_tile_needs_mask<PATTN_QUERY_MAJOR>(it.pos, it.len, run, kbase, BC);
        if (masked)
            mask_tile<PATTN_QUERY_MAJOR>(s, row0, kbase, run);
        probs_by_row(s, lse2, a.scale_log2, masked);

        float dp[NT][4]; /* dP, then dS */
        product_abt<T, D, NT, S>(dp, sO + wrow * S, sV, ln);
        if (DROPOUT)
            apply_keep(dp, keep_query_major<NT>(a.drop, head_off, row0, kbase), a.drop.keep_scale);
        ds_by_row(dp, s, dsum);
        product_ab<T, NT, DT, S, true>(dq, dp, sK, 0, ln); /* dS in two terms */
    }

    grad_store_rows<T>(a.dq, a.dq_stride, a.sample_rows, a.accumulate, w.b, w.h, a.D, 0,
                       tile_span(it), row0, dq, a.scale);
    cp_async_wait_all(); /* nothing in flight when the CTA exits */
}

template <class C> struct BwdDqMma {
    static constexpr bool FP32 = false;
    template <typename T, bool DROPOUT>
    static cudaError_t run(const pattn_cuda_bwd_args_t *a, cudaStream_t stream)
    {
        const int ctas = a->num_items * a->Hq * a->B;
        return launch_kernel<bwd_dq_mma_kernel<T, C, DROPOUT>>(ctas, C::THREADS, C::SMEM, stream, *a);
    }
};

} // namespace pattn

/* Defines pattn_cuda_bwd_dq_mma_d<D> (registry.h). */
#define PATTN_DEFINE_BWD_DQ_MMA(D_)                                                                \
    PATTN_DEFINE_LAUNCHER(bwd_dq_mma, D_,                                                          \
                          pattn::dispatch_bwd<pattn::BwdDqMma<pattn::MmaDq<D_>>>)

#endif /* PATTN_CUDA_BWD_DQ_MMA_CUH */
