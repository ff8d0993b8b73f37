/*
 * fwd_tma.cuh: the warp-specialised Hopper (sm_90a) forward for head dims 64 to 256 (config.h),
 * fp16 and bf16, FlashAttention-3's structure on this library's work items, fragment layer and
 * epilogue (same masks, dropout, modes and results as fwd_wgmma.cuh and fwd_mma.cuh):
 *
 *   persistent CTAs (one per SM) walk the launch's work (item x head x sample) in the order
 *   work_at deals it, so the next tile's loads overlap this tile's epilogue;
 *   a producer warp loads Q, and K and V into rings of STAGES buffers each, with TMA tile loads
 *   (128-byte swizzle, the layout wgmma reads) that complete on "full" mbarriers; a sub-tile that
 *   crosses its run's end is copied by the warp with cp.async instead, so that rows outside the
 *   run are zeros, never another sequence's values. Consumers release buffers on "empty" ones;
 *   CONSUMERS warpgroups (config.h: two, 64 query rows each) take turns issuing their
 *   products (named barriers: ping-pong), so one's softmax runs under the other's wgmma;
 *   within a warpgroup, S(j) = Q K_j^T and O += P(j-1) V_(j-1) are issued together and the
 *   softmax of S(j) runs while P(j-1) V_(j-1) is still on the tensor cores (FA3's intra-
 *   warpgroup overlap: O is rescaled only once that product is done).
 */
#ifndef PATTN_CUDA_FWD_TMA_CUH
#define PATTN_CUDA_FWD_TMA_CUH

#include <cuda.h>
#include <cuda_runtime.h>

#include "config.h"
#include "fragment.cuh"
#include "fwd_epilogue.cuh"
#include "launch.cuh"
#include "smem_tiles.cuh"
#include "tensor_maps.h"
#include "tma_ops.cuh"
#include "wgmma_ops.cuh"
#include "wgmma_products.cuh"

namespace pattn {

/* The kernel's parameter: the forward's arguments and the tensor maps of Q, K and V. */
struct FwdTmaParams {
    pattn_cuda_fwd_args_t a;
    CUtensorMap q, k, v;
};

/* The launch's work x (cta_at's numbering) of this CTA's k-th turn, or -1 past the end
 * (core/items.h). Uneven items (a.uneven: causal, varlen) go heaviest first across the launch:
 * in launch order, each head's items heaviest first, a CTA meets the same few of every head
 * when the items per head are close to the CTAs (causal 16K: 128 items, 132 CTAs, CTA 0 only
 * heavy ones, 0.65x the speed of 8K). Measured on the H200 (bf16): 1.54x at d128 causal 16K,
 * 1.07x at 8K; on full attention the same order cost 6-15% (L2), so even items keep launch
 * order. */
__device__ __forceinline__ int work_at(const FwdTmaParams &prm, int k)
{
    const pattn_cuda_fwd_args_t &a = prm.a;
    return pattn_persistent_work(k, (int)gridDim.x, (int)blockIdx.x, a.num_items, a.Hq * a.B,
                                 a.uneven);
}

/* The CTA's mbarriers: full ones count the producer's arrival and TMA's bytes, empty ones one
 * arrival per consumer warp. */
template <int S> struct FwdTmaBarriers {
    uint64_t q_full, q_empty, k_full[S], k_empty[S], v_full[S], v_empty[S];
};

/* The CTA's shared memory: Q, and the K and V rings (config.h's sizes). */
struct FwdTmaSmem {
    unsigned char *q, *k, *v;
};

/* Named barriers (id 0 is __syncthreads): the consumers' turns on the tensor cores (take_turn,
 * pass_turn: TMA_TURN + c for consumer c). */
enum TmaBarrier { TMA_TURN = 1 };

/* The CTA's walk through its work, as the producer side sees it: on_tile(w, it) for each tile
 * with sub-tiles, then on_sub(w, it, run, kbase, n) for each of them, n counting the CTA's
 * sub-tiles (the ring position; the consumers count the same way). */
template <int BC, class OnTile, class OnSub>
__device__ __forceinline__ void walk_sub_tiles(const FwdTmaParams &prm, OnTile on_tile,
                                               OnSub on_sub)
{
    const pattn_cuda_fwd_args_t &a = prm.a;
    uint32_t n = 0;
    for (int k = 0, x; (x = work_at(prm, k)) >= 0; ++k) {
        const Cta w = cta_at(a.items, a.num_items, a.Hq, x);
        const pattn_item_t &it = *w.item;
        const SubTiles kt = sub_tiles<PATTN_QUERY_MAJOR>(it, BC);
        if (kt.total == 0)
            continue;
        on_tile(w, it);
        for (int j = 0; j < kt.total; ++j, ++n) {
            int run_i, kbase;
            sub_tile_at(kt, j, BC, run_i, kbase);
            on_sub(w, it, run_i, kbase, n);
            __syncwarp();
        }
    }
}

/* The producer warp: for each tile of the CTA's work, Q (once consumers released the last
 * one), then K and V of each sub-tile into the next ring buffers. */
template <typename T, class C>
__device__ __forceinline__ void tma_producer(const FwdTmaParams &prm, FwdTmaBarriers<C::STAGES> &bar,
                                             const FwdTmaSmem &sm)
{
    constexpr int D = C::D, BLOCKS = C::DP / 64, BC = C::BC, S = C::STAGES;
    const pattn_cuda_fwd_args_t &a = prm.a;
    const int lane = threadIdx.x % 32;
    if (lane == 0) {
        tma_prefetch_desc(&prm.q);
        tma_prefetch_desc(&prm.k);
        tma_prefetch_desc(&prm.v);
    }
    uint32_t q_n = 0;
    auto on_tile = [&](const Cta &w, const pattn_item_t &it) {
        mbar_wait(&bar.q_empty, (q_n & 1) ^ 1);
        if (lane == 0) {
            mbar_arrive_expect_tx(&bar.q_full, C::Q_BYTES);
            const int row = buffer_row(w.b, a.sample_rows, tile_span(it), it.tile_pos);
#pragma unroll
            for (int c = 0; c < BLOCKS; ++c)
                tma_load_2d(sm.q + c * C::ROWS * 128, &prm.q, &bar.q_full, w.h * D + 64 * c, row);
        }
        ++q_n;
    };
    auto on_sub = [&](const Cta &w, const pattn_item_t &it, int run_i, int kbase, uint32_t n) {
        const int g = w.h / a.r;
        const Span span = run_span(it.runs[run_i]);
        const int st = n % S;
        const uint32_t empty_parity = ((n / S) & 1) ^ 1;
        unsigned char *const k_dst = sm.k + st * C::KV_BYTES, *const v_dst = sm.v + st * C::KV_BYTES;
        if (span_holds(span, kbase, BC)) {
            if (lane == 0) {
                const int row = buffer_row(w.b, a.kv.sample_rows, span, kbase);
                mbar_wait(&bar.k_empty[st], empty_parity);
                mbar_arrive_expect_tx(&bar.k_full[st], C::KV_BYTES);
#pragma unroll
                for (int c = 0; c < BLOCKS; ++c)
                    tma_load_2d(k_dst + c * BC * 128, &prm.k, &bar.k_full[st], g * D + 64 * c, row);
                mbar_wait(&bar.v_empty[st], empty_parity);
                mbar_arrive_expect_tx(&bar.v_full[st], C::KV_BYTES);
#pragma unroll
                for (int c = 0; c < BLOCKS; ++c)
                    tma_load_2d(v_dst + c * BC * 128, &prm.v, &bar.v_full[st], g * D + 64 * c, row);
            }
        } else {
            /* The run ends inside the sub-tile: rows outside it become zeros. */
            const T *kg = head_rows<const T>(a.kv.k, a.kv.stride, a.kv.sample_rows, w.b, g, D);
            const T *vg = head_rows<const T>(a.kv.v, a.kv.stride, a.kv.sample_rows, w.b, g, D);
            mbar_wait(&bar.k_empty[st], empty_parity);
            mbar_wait(&bar.v_empty[st], empty_parity);
            load_tile_sw128<T, BC, D, 32, 4>(k_dst, kg, a.kv.stride, kbase, span, lane);
            load_tile_sw128<T, BC, D, 32, 4>(v_dst, vg, a.kv.stride, kbase, span, lane);
            warp_tiles_landed();
            if (lane == 0) {
                mbar_arrive(&bar.k_full[st]);
                mbar_arrive(&bar.v_full[st]);
            }
        }
    };
    walk_sub_tiles<BC>(prm, on_tile, on_sub);
}

/* One consumer warpgroup (c < CONSUMERS): the tile's query rows 64 c.. against every sub-tile. */
template <typename T, class C, bool DROPOUT, int MODE>
__device__ __forceinline__ void tma_consumer(const FwdTmaParams &prm, FwdTmaBarriers<C::STAGES> &bar,
                                             const FwdTmaSmem &sm, int c)
{
    constexpr int BC = C::BC, S = C::STAGES;
    constexpr int NT = BC / 8;  /* 8-key chunks of S */
    constexpr int DT = C::DP / 8; /* 8-column chunks of O */
    const pattn_cuda_fwd_args_t &a = prm.a;
    const int wrow = c * 64 + ((threadIdx.x / 32) % 4) * 16; /* the warp's first row */
    const uint32_t q_addr = smem_u32(sm.q) + c * 64 * 128;
    const uint32_t k_addr0 = smem_u32(sm.k), v_addr0 = smem_u32(sm.v);
    uint32_t q_n = 0, kv_n = 0;
    constexpr int N = C::CONSUMERS;
    if (c == N - 1)
        pass_turn(TMA_TURN, c, N); /* warpgroup 0 issues first */
    for (int k = 0, x; (x = work_at(prm, k)) >= 0; ++k) {
        const Cta w = cta_at(a.items, a.num_items, a.Hq, x);
        const pattn_item_t &it = *w.item;
        const SubTiles kt = sub_tiles<PATTN_QUERY_MAJOR>(it, BC);
        const int row0 = it.tile_pos + wrow;
        const uint64_t head_off = a.drop.offset + ((uint64_t)w.unit * a.Hq + w.h) * 32u;
        float o[DT][4], m[2] = {-CUDART_INF_F, -CUDART_INF_F}, l[2] = {0.f, 0.f};
        zero(o);
        if (kt.total > 0) {
            mbar_wait(&bar.q_full, q_n & 1);
            ++q_n;
            float s[NT][4], alpha[2];
            uint32_t pa[BC / 16][4];
            KeepFlags<NT> keep; /* sub-tile j's, applied to P once packed (pack_kept) */
            /* Scores of sub-tile j (S(j) landed in s): mask, softmax, and the dropout's flags.
             * The masked and unmasked forms are code paths of their own: ptxas hoists the wait
             * for P(j-1) V to the top of the block that holds it, so whatever shares that block
             * with it runs only once the product is done (measured: the softmax in one block
             * with the wait cost 1-9%). The Philox rounds, written first, ptxas sinks after the
             * wait to their use in pack_kept; forcing them before it (P packed before the wait
             * into a second buffer) measured slower (PERF.md). */
            auto softmax_of = [&](int j) {
                int run_i, kbase;
                sub_tile_at(kt, j, BC, run_i, kbase);
                const pattn_item_run_t &run = it.runs[run_i];
                if (DROPOUT)
                    keep = keep_flags_query_major<NT>(a.drop, head_off, row0, kbase);
                if (sub_tile_needs_mask<PATTN_QUERY_MAJOR>(it.pos, it.len, run, kbase, BC)) {
                    mask_tile<PATTN_QUERY_MAJOR>(s, row0, kbase, run);
                    softmax_tile(s, m, l, alpha, true, a.scale_log2);
                } else {
                    softmax_tile(s, m, l, alpha, false, a.scale_log2);
                }
            };
            /* P as the A operand of P V, the dropped elements zeroed (the row sums l are of
             * every element: the epilogue scales by keep_scale / l) */
            auto pack_kept = [&]() {
                pack_p<T>(s, pa);
                if (DROPOUT)
                    mask_packed<NT>(pa, keep);
            };
            /* Sub-tile 0: its scores alone (O is still zero). */
            take_turn(TMA_TURN, c);
            mbar_wait(&bar.k_full[kv_n % S], (kv_n / S) & 1);
            wgmma_fence();
            issue_abt<T, C::D, C::ROWS, C::BC>(s, q_addr, k_addr0 + (kv_n % S) * C::KV_BYTES);
            pass_turn(TMA_TURN, c, N);
            wgmma_wait<0>();
            fence_tile(s);
            mbar_release_warp(&bar.k_empty[kv_n % S]);
            if (kt.total == 1)
                mbar_release_warp(&bar.q_empty);
            softmax_of(0);
            pack_kept();
            ++kv_n;
            /* Sub-tiles 1..: S(j) and P(j-1) V issued together, the softmax of S(j) under the
             * second; every trip the same (ptxas serialises wgmma whose waits differ by path). */
            for (int j = 1; j < kt.total; ++j, ++kv_n) {
                const int st = kv_n % S, sp = (kv_n - 1) % S; /* buffers of j and j - 1 */
                take_turn(TMA_TURN, c);
                mbar_wait(&bar.k_full[st], (kv_n / S) & 1);
                fence_tile(o);
                wgmma_fence();
                issue_abt<T, C::D, C::ROWS, C::BC>(s, q_addr, k_addr0 + st * C::KV_BYTES);
                mbar_wait(&bar.v_full[sp], ((kv_n - 1) / S) & 1);
                issue_pb<T, C::DP, C::BC>(o, pa, v_addr0 + sp * C::KV_BYTES);
                pass_turn(TMA_TURN, c, N);
                wgmma_wait<1>(); /* S(j) is done; P(j-1) V may still run */
                fence_tile(s);
                mbar_release_warp(&bar.k_empty[st]);
                if (j == kt.total - 1)
                    mbar_release_warp(&bar.q_empty);
                softmax_of(j);
                wgmma_wait<0>();
                fence_tile(o);
                mbar_release_warp(&bar.v_empty[sp]);
                rescale_rows(o, alpha);
                pack_kept();
            }
            /* The last sub-tile's P V. */
            const int sp = (kv_n - 1) % S;
            take_turn(TMA_TURN, c);
            mbar_wait(&bar.v_full[sp], ((kv_n - 1) / S) & 1);
            fence_tile(o);
            wgmma_fence();
            issue_pb<T, C::DP, C::BC>(o, pa, v_addr0 + sp * C::KV_BYTES);
            pass_turn(TMA_TURN, c, N);
            wgmma_wait<0>();
            fence_tile(o);
            mbar_release_warp(&bar.v_empty[sp]);
        }
        store_rows<T, MODE>(a, w, tile_span(it), row0, o, m, l);
    }
    if (c == 0)
        take_turn(TMA_TURN, 0); /* the last warpgroup's last hand-over */
}

template <typename T, class C, bool DROPOUT, int MODE>
__global__ void __launch_bounds__(C::THREADS, 1)
    fwd_tma_kernel(const __grid_constant__ FwdTmaParams prm)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    extern __shared__ unsigned char smem_raw[];
    unsigned char *const smem = smem_raw + ((1024u - (smem_u32(smem_raw) & 1023u)) & 1023u);
    FwdTmaSmem sm;
    sm.q = smem;
    sm.k = sm.q + C::Q_BYTES;
    sm.v = sm.k + C::STAGES * C::KV_BYTES;
    __shared__ FwdTmaBarriers<C::STAGES> bar;
    if (threadIdx.x == 0) {
        mbar_init(&bar.q_full, 1);
        mbar_init(&bar.q_empty, 4 * C::CONSUMERS);
        for (int s = 0; s < C::STAGES; ++s) {
            mbar_init(&bar.k_full[s], 1);
            mbar_init(&bar.v_full[s], 1);
            mbar_init(&bar.k_empty[s], 4 * C::CONSUMERS);
            mbar_init(&bar.v_empty[s], 4 * C::CONSUMERS);
        }
        mbar_init_fence();
    }
    __syncthreads();
    /* warp-uniform to ptxas, or it serialises the wgmma of a "divergent" consumer (C7520); each
     * warpgroup then takes its register budget (config.h) */
    const int wg = __shfl_sync(0xffffffffu, (int)threadIdx.x / 128, 0);
    if (wg > 0) {
        set_max_regs_inc<C::CONSUMER_REGS>();
        tma_consumer<T, C, DROPOUT, MODE>(prm, bar, sm, wg - 1);
    } else {
        set_max_regs_dec<C::PRODUCER_REGS>();
        if (threadIdx.x < 32)
            tma_producer<T, C>(prm, bar, sm);
    }
#else
    __trap(); /* built without sm_90a: the registry never picks this kernel (registry.cu) */
#endif
}

template <class C> struct FwdTma {
    static constexpr bool FP32 = false;
    template <typename T, bool DROPOUT, int MODE>
    static cudaError_t run(const pattn_cuda_fwd_args_t *a, int ctas, cudaStream_t stream)
    {
        FwdTmaParams prm;
        prm.a = *a;
        const int hkv = a->Hq / a->r;
        cudaError_t e = pattn_cuda_tile_map(&prm.q, a->q, 2, (uint64_t)a->Hq * a->D,
                                            (uint64_t)a->B * a->sample_rows, a->q_stride * 2,
                                            C::ROWS);
        if (e == cudaSuccess)
            e = pattn_cuda_tile_map(&prm.k, a->kv.k, 2, (uint64_t)hkv * a->D,
                                    (uint64_t)a->B * a->kv.sample_rows, a->kv.stride * 2, C::BC);
        if (e == cudaSuccess)
            e = pattn_cuda_tile_map(&prm.v, a->kv.v, 2, (uint64_t)hkv * a->D,
                                    (uint64_t)a->B * a->kv.sample_rows, a->kv.stride * 2, C::BC);
        int sms = 0;
        if (e == cudaSuccess)
            e = pattn_cuda_sm_count(&sms);
        if (e != cudaSuccess)
            return e;
        return launch_kernel<fwd_tma_kernel<T, C, DROPOUT, MODE>>(ctas < sms ? ctas : sms,
                                                                   C::THREADS, C::SMEM, stream, prm);
    }
};

} // namespace pattn

/* Defines pattn_cuda_fwd_tma_d<D> (registry.h). */
#define PATTN_DEFINE_FWD_TMA(D_)                                                                   \
    PATTN_DEFINE_LAUNCHER(fwd_tma, D_,                                                             \
                          pattn::dispatch_fwd<pattn::FwdTma<pattn::TmaFwd<D_>>>)

#endif /* PATTN_CUDA_FWD_TMA_CUH */
