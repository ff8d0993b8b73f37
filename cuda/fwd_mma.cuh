/*
 * fwd_mma.cuh: the tensor-core forward kernel (FlashAttention-2's algorithm on mma.sync
 * m16n8k16, fp16/bf16 in, fp32 accumulate), templated on the dtype, a tile configuration
 * (config.h), dropout and the output mode. One CTA runs one query-major work item for one
 * sample and query head:
 *
 *   Q tile -> shared memory once; for each key sub-tile (K and V double-buffered, cp.async: the
 *   next tile's loads fly while this one computes, one barrier per tile):
 *     S = Q K^T (ldmatrix + mma), then the fragment layer (fragment.cuh): mask, online softmax
 *     in exp2 with scale * log2(e) folded, dropout; O += P V with P as the A operand.
 *
 * Each warp owns MT 16-row tiles and all D columns of them, so a row's statistics live in the
 * four threads of a quad.
 */
#ifndef PATTN_CUDA_FWD_MMA_CUH
#define PATTN_CUDA_FWD_MMA_CUH

#include <cuda_runtime.h>

#include "config.h"
#include "fragment.cuh"
#include "fwd_epilogue.cuh"
#include "launch.cuh"
#include "smem_tiles.cuh"

namespace pattn {

template <typename T, class C, bool DROPOUT, int MODE>
__global__ void __launch_bounds__(C::THREADS, C::MIN_CTAS)
    fwd_mma_kernel(const __grid_constant__ pattn_cuda_fwd_args_t a)
{
    constexpr int D = C::D, MT = C::MT, BC = C::BC, BR = C::ROWS, S = C::PITCH;
    constexpr int NT = BC / 8; /* 8-key chunks of S */
    constexpr int DT = D / 8;  /* 8-column chunks of O */
    static_assert(BR % 16 == 0 && BC % 32 == 0, "whole 16 x 32 dropout tiles");
    extern __shared__ __align__(16) unsigned char smem_raw[];
    T *const sQ = reinterpret_cast<T *>(smem_raw);
    T *const sK0 = sQ + BR * S; /* K and V of sub-tile j live in buffer j % 2 */
    T *const sV0 = sK0 + 2 * BC * S;

    const Cta w = cta_of(a.items, a.num_items, a.Hq);
    const pattn_item_t &it = *w.item;
    const int wrow = (threadIdx.x / 32) * 16 * MT; /* the warp's first row in the tile */
    const LdsmLane ln = ldsm_lane();

    const T *qg = head_rows<const T>(a.q, a.q_stride, a.sample_rows, w.b, w.h, a.D);
    const T *kg = head_rows<const T>(a.kv.k, a.kv.stride, a.kv.sample_rows, w.b, w.h / a.r, a.D);
    const T *vg = head_rows<const T>(a.kv.v, a.kv.stride, a.kv.sample_rows, w.b, w.h / a.r, a.D);
    const uint64_t head_off = a.drop.offset + ((uint64_t)w.unit * a.Hq + w.h) * 32u;

    float o[MT][DT][4], m[MT][2], l[MT][2];
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) {
        zero(o[mt]);
        m[mt][0] = m[mt][1] = -CUDART_INF_F;
        l[mt][0] = l[mt][1] = 0.f;
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
        load_tile<T, BR, D, C::THREADS>(sQ, qg, a.q_stride, a.D, it.tile_pos, tile_span(it));
        load_kv(0);
    }

    for (int j = 0; j < kt.total; ++j) {
        int run_i, kbase;
        sub_tile_at(kt, j, BC, run_i, kbase);
        const pattn_item_run_t &run = it.runs[run_i];
        const T *const sK = sK0 + (j % 2) * BC * S;
        const T *const sV = sV0 + (j % 2) * BC * S;
        cp_async_wait_all();
        __syncthreads(); /* sub-tile j (and Q) landed; every warp is done with j - 1's buffer */
        if (j + 1 < kt.total)
            load_kv(j + 1); /* lands while sub-tile j computes */

        /* S = Q K^T */
        float s[MT][NT][4];
#pragma unroll
        for (int mt = 0; mt < MT; ++mt)
            zero(s[mt]);
#pragma unroll
        for (int ks = 0; ks < D / 16; ++ks) {
            uint32_t af[MT][4];
#pragma unroll
            for (int mt = 0; mt < MT; ++mt)
                ldsm_x4(af[mt], sQ + (wrow + mt * 16 + ln.a_row) * S + ks * 16 + ln.a_col);
#pragma unroll
            for (int np = 0; np < NT / 2; ++np) {
                uint32_t bf[4];
                ldsm_x4(bf, sK + (np * 16 + ln.b_row) * S + ks * 16 + ln.b_col);
#pragma unroll
                for (int mt = 0; mt < MT; ++mt) {
                    Mma<T>::run(s[mt][2 * np], af[mt], bf[0], bf[1]);
                    Mma<T>::run(s[mt][2 * np + 1], af[mt], bf[2], bf[3]);
                }
            }
        }

        const bool masked = sub_tile_needs_mask<PATTN_QUERY_MAJOR>(it.pos, it.len, run, kbase, BC);
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) {
            const int row0 = it.tile_pos + wrow + mt * 16;
            if (masked)
                mask_tile<PATTN_QUERY_MAJOR>(s[mt], row0, kbase, run);
            online_softmax(s[mt], o[mt], m[mt], l[mt], masked, a.scale_log2);
            if (DROPOUT)
                apply_keep(s[mt], keep_query_major<NT>(a.drop, head_off, row0, kbase), 1.f);
        }

        /* O += P V: P's accumulator layout is the A operand layout of the next mma. */
#pragma unroll
        for (int kk = 0; kk < BC / 16; ++kk) {
            uint32_t pa[MT][4];
#pragma unroll
            for (int mt = 0; mt < MT; ++mt)
                pack_a<T>(s[mt], kk, pa[mt]);
#pragma unroll
            for (int dp = 0; dp < DT / 2; ++dp) {
                uint32_t vf[4];
                ldsm_x4_trans(vf, sV + (kk * 16 + ln.a_row) * S + dp * 16 + ln.a_col);
#pragma unroll
                for (int mt = 0; mt < MT; ++mt) {
                    Mma<T>::run(o[mt][2 * dp], pa[mt], vf[0], vf[1]);
                    Mma<T>::run(o[mt][2 * dp + 1], pa[mt], vf[2], vf[3]);
                }
            }
        }
    }

#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
        store_rows<T, MODE>(a, w, tile_span(it), it.tile_pos + wrow + mt * 16, o[mt], m[mt], l[mt]);
    cp_async_wait_all(); /* nothing in flight when the CTA exits */
}

/* The launcher of one configuration: dtype x dropout x mode (dropout is its own instantiation:
 * its Philox registers would push the others out). */
template <class C> struct FwdMma {
    static constexpr bool FP32 = false;
    template <typename T, bool DROPOUT, int MODE>
    static cudaError_t run(const pattn_cuda_fwd_args_t *a, int ctas, cudaStream_t stream)
    {
        return launch_kernel<fwd_mma_kernel<T, C, DROPOUT, MODE>>(ctas, C::THREADS, C::SMEM,
                                                                  stream, *a);
    }
};

} // namespace pattn

/* Defines pattn_cuda_fwd_mma_d<D> (registry.h). */
#define PATTN_DEFINE_FWD_MMA(D_)                                                                   \
    PATTN_DEFINE_LAUNCHER(fwd_mma, D_,                                                             \
                          pattn::dispatch_fwd<pattn::FwdMma<pattn::MmaFwd<D_>>>)

#endif /* PATTN_CUDA_FWD_MMA_CUH */
