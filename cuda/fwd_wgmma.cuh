/*
 * fwd_wgmma.cuh: the Hopper (sm_90a) forward kernel for head dims 64 and 128, fp16 and bf16:
 * FlashAttention-2's algorithm on warpgroup MMA. Same work items, masks, dropout, modes and
 * results as the mma.sync kernel (fwd_mma.cuh), through the same fragment layer; only the matrix
 * products differ:
 *
 *   two warpgroups of 4 warps, each owning 64 of the tile's 128 query rows (at d128 they take
 *   turns on the tensor cores: ping-pong, config.h); Q, and K and V (double-buffered, cp.async:
 *   the next tile's loads fly while this one computes) live in shared memory in the 128-byte
 *   swizzled layout wgmma reads (wgmma_ops.cuh);
 *   S = Q K^T: wgmma m64n128k16 with both operands from shared memory (K-major); the wgmma
 *   accumulator gives warp w of a warpgroup rows 16w..16w+15 in the m16n8 layout of mma.sync,
 *   so the fragment layer (mask, online softmax, dropout) runs on it unchanged;
 *   O += P V: wgmma m64nDk16 with P from registers (the accumulator layout is the A-fragment
 *   layout) and V from shared memory, N-major (the transpose bit).
 */
#ifndef PATTN_CUDA_FWD_WGMMA_CUH
#define PATTN_CUDA_FWD_WGMMA_CUH

#include <cuda_runtime.h>

#include "config.h"
#include "fragment.cuh"
#include "fwd_epilogue.cuh"
#include "launch.cuh"
#include "smem_tiles.cuh"
#include "wgmma_ops.cuh"
#include "wgmma_products.cuh"

namespace pattn {

/* Named barriers (id 0 is __syncthreads). */
enum WgmmaBarrier { WG_S_DONE = 1 };

template <typename T, class C, bool DROPOUT, int MODE>
__global__ void __launch_bounds__(C::THREADS, C::MIN_CTAS)
    fwd_wgmma_kernel(const __grid_constant__ pattn_cuda_fwd_args_t a)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    constexpr int D = C::D, BC = C::BC, BR = C::ROWS;
    constexpr int NT = BC / 8; /* 8-key chunks of S */
    constexpr int DT = D / 8;  /* 8-column chunks of O */
    extern __shared__ unsigned char smem_raw[];
    unsigned char *const smem = smem_raw + ((1024u - (smem_u32(smem_raw) & 1023u)) & 1023u);
    unsigned char *const sQ = smem;
    unsigned char *const sK0 = sQ + C::Q_BYTES; /* K and V of sub-tile j live in buffer j % 2 */
    unsigned char *const sV0 = sK0 + 2 * C::KV_BYTES;

    const Cta w = cta_of(a.items, a.num_items, a.Hq);
    __shared__ pattn_item_t item; /* measured: d64 spills 64 bytes from smem, 140 from global */
    stage_item(item, w.item);
    const pattn_item_t &it = item;
    const int wg = threadIdx.x / 128;
    const int wrow = wg * 64 + ((threadIdx.x / 32) % 4) * 16; /* the warp's first row */

    const T *qg = head_rows<const T>(a.q, a.q_stride, a.sample_rows, w.b, w.h, a.D);
    const T *kg = head_rows<const T>(a.kv.k, a.kv.stride, a.kv.sample_rows, w.b, w.h / a.r, a.D);
    const T *vg = head_rows<const T>(a.kv.v, a.kv.stride, a.kv.sample_rows, w.b, w.h / a.r, a.D);
    const uint64_t head_off = a.drop.offset + ((uint64_t)w.unit * a.Hq + w.h) * 32u;

    float o[DT][4], m[2] = {-CUDART_INF_F, -CUDART_INF_F}, l[2] = {0.f, 0.f};
    zero(o);

    const SubTiles kt = sub_tiles<PATTN_QUERY_MAJOR>(it, BC);
    const uint32_t q_addr = smem_u32(sQ) + wg * 64 * 128; /* this warpgroup's 64 rows */
    auto load_kv = [&](int j) {
        int run_i, kbase;
        sub_tile_at(kt, j, BC, run_i, kbase);
        const Span span = run_span(it.runs[run_i]);
        load_tile_sw128<T, BC, D, C::THREADS>(sK0 + (j % 2) * C::KV_BYTES, kg, a.kv.stride, kbase,
                                              span, threadIdx.x);
        load_tile_sw128<T, BC, D, C::THREADS>(sV0 + (j % 2) * C::KV_BYTES, vg, a.kv.stride, kbase,
                                              span, threadIdx.x);
        cp_async_commit();
    };
    if (kt.total > 0) {
        load_tile_sw128<T, BR, D, C::THREADS>(sQ, qg, a.q_stride, it.tile_pos, tile_span(it),
                                              threadIdx.x);
        load_kv(0);
    }

    for (int j = 0; j < kt.total; ++j) {
        int run_i, kbase;
        sub_tile_at(kt, j, BC, run_i, kbase);
        const pattn_item_run_t &run = it.runs[run_i];
        const uint32_t k_addr = smem_u32(sK0 + (j % 2) * C::KV_BYTES);
        const uint32_t v_addr = smem_u32(sV0 + (j % 2) * C::KV_BYTES);
        cp_async_wait_all();
        fence_proxy_async(); /* this thread's cp.async bytes are read by wgmma next */
        __syncthreads();     /* sub-tile j (and Q) landed; every warp is done with j - 1 */
        if (j + 1 < kt.total)
            load_kv(j + 1); /* lands while sub-tile j computes */

        /* S = Q K^T (wgmma_products.cuh) */
        float s[NT][4];
        if (C::PINGPONG && wg == 1)
            named_barrier_sync(WG_S_DONE, C::THREADS); /* warpgroup 0's S is done */
        wgmma_fence();
        issue_abt<T, C::D, C::ROWS, C::BC>(s, q_addr, k_addr);
        wgmma_wait<0>();
        fence_tile(s);
        if (C::PINGPONG && wg == 0)
            named_barrier_arrive(WG_S_DONE, C::THREADS);

        const bool masked = sub_tile_needs_mask<PATTN_QUERY_MAJOR>(it.pos, it.len, run, kbase, BC);
        const int row0 = it.tile_pos + wrow;
        if (masked)
            mask_tile<PATTN_QUERY_MAJOR>(s, row0, kbase, run);
        online_softmax(s, o, m, l, masked, a.scale_log2);
        if (DROPOUT)
            apply_keep(s, keep_query_major<NT>(a.drop, head_off, row0, kbase), 1.f);

        /* O += P V */
        uint32_t pa[BC / 16][4];
        pack_p<T>(s, pa);
        fence_tile(o);
        wgmma_fence();
        issue_pb<T, C::D, C::BC>(o, pa, v_addr);
        wgmma_wait<0>();
        fence_tile(o);
    }

    store_rows<T, MODE>(a, w, tile_span(it), it.tile_pos + wrow, o, m, l);
    cp_async_wait_all(); /* nothing in flight when the CTA exits */
#else
    __trap(); /* built without sm_90a: the registry never picks this kernel (registry.cu) */
#endif
}

template <class C> struct FwdWgmma {
    static constexpr bool FP32 = false;
    template <typename T, bool DROPOUT, int MODE>
    static cudaError_t run(const pattn_cuda_fwd_args_t *a, int ctas, cudaStream_t stream)
    {
        return launch_kernel<fwd_wgmma_kernel<T, C, DROPOUT, MODE>>(ctas, C::THREADS, C::SMEM,
                                                                    stream, *a);
    }
};

} // namespace pattn

/* Defines pattn_cuda_fwd_wgmma_d<D> (registry.h). */
#define PATTN_DEFINE_FWD_WGMMA(D_)                                                                 \
    PATTN_DEFINE_LAUNCHER(fwd_wgmma, D_,                                                           \
                          pattn::dispatch_fwd<pattn::FwdWgmma<pattn::WgmmaFwd<D_>>>)

#endif /* PATTN_CUDA_FWD_WGMMA_CUH */
