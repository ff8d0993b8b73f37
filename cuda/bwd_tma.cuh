/*
 * bwd_tma.cuh: the warp-specialised Hopper (sm_90a) backward for head dims 64 and 128, fp16 and
 * bf16, in one pass (FlashAttention-3's structure on this library's key-major work items, fragment
 * layer and epilogue): dK, dV and dQ of every path the mma.sync passes run (masks, packed varlen,
 * global positions, dropout, FINAL/ACCUMULATE), dQ added in fp32: in whatever order the CTAs
 * reach L2, or, in the deterministic mode, in the order of pattn_items_turns (core/items.h), its
 * CTAs launched in pattn_ordered_work's order.
 *
 *   One CTA per key tile (ROWS keys) of one KV head and sample walks the query sub-tiles of its
 *   runs for each of the r query heads of that KV head. A producer warp loads K and V once, and
 *   each step's Q, dO (TMA, or cp.async with zero fill where a sub-tile crosses its run's end),
 *   lse and D into rings of STAGES buffers ("full" and "empty" mbarriers, as fwd_tma.cuh). Each
 *   of the two consumer warpgroups owns 64 keys and, per step (fragment.cuh, key-major):
 *     S^T = K Q^T, dP^T = V dO^T (SS);  P^T = exp2(S^T scale log2(e) - lse2) (masked);
 *     Z the dropout mask, s = keep_scale;  dS^T = P^T (dP^T Z s - D);
 *     dV += (P^T Z s) dO, dK += dS^T Q (RS: P^T and dS^T straight from registers);
 *     dS^T to shared memory and, once both warpgroups stored theirs (named barrier), the
 *     consumer's 64 x 64 block of dQ = scale dS K over all ROWS keys (SS, both operands
 *     transposed; config.h: columns 64 c.. at d128, queries 64 c.. at d64), added to the fp32 dQ
 *     by TMA reductions from a staging tile, which the producer warpgroup's second warp (the dQ
 *     warp) issues and waits for, off the consumers' path: one addition per dQ element and CTA.
 *   dK (times scale) and dV are stored once at the end (bwd_epilogue.cuh).
 */
#ifndef PATTN_CUDA_BWD_TMA_CUH
#define PATTN_CUDA_BWD_TMA_CUH

#include <cuda.h>
#include <cuda_runtime.h>

#include "bwd_epilogue.cuh"
#include "config.h"
#include "fragment.cuh"
#include "launch.cuh"
#include "smem_tiles.cuh"
#include "tensor_maps.h"
#include "tma_ops.cuh"
#include "wgmma_ops.cuh"
#include "wgmma_products.cuh"

namespace pattn {

/* The kernel's parameter: the backward's arguments and the tensor maps of Q, dO, K, V and the
 * fp32 dQ. */
struct BwdTmaParams {
    pattn_cuda_bwd_args_t a;
    CUtensorMap q, dout, k, v, dq;
};

/* kv_full: K and V landed; q_full/q_empty: a step's Q, dO, lse2 and D landed / were read. The
 * full barriers take one arrival per producer lane (each publishes its own lse2, D and cp.async
 * stores; lane 0's also expects TMA's bytes), q_empty one per consumer thread (each releases its
 * own reads of lse2 and D: compute-sanitizer's racecheck follows no warp's single arrival across
 * __syncwarp; the per-thread arrivals cost about 1% on the H200). */
template <int S> struct BwdTmaBarriers {
    uint64_t kv_full, q_full[S], q_empty[S];
};

/* The CTA's shared memory (config.h's sizes): K, V, per stage Q, dO, dS^T, lse2, D, a dQ
 * staging tile per consumer, and the dropout's pair exchange (keep_key_major, two sets). */
struct BwdTmaSmem {
    unsigned char *k, *v, *q, *dout, *ds, *dq;
    float *lse2, *dsum;
    uint32_t *keep;
};

/* Named barriers (id 0 is __syncthreads): both warpgroups' dS^T, which each one's dQ product
 * reads, is stored (BWD_DS_STORED); consumer t's dQ staging tile is free (BWD_DQ_EMPTY + t: the
 * dQ warp arrives, the consumer waits), then written (BWD_DQ_FULL + t: the consumer arrives, the
 * dQ warp waits). A second staging tile per consumer (the consumers then never wait for the dQ
 * warp) measured no faster on the H200. */
enum BwdTmaBarrier {
    BWD_DS_STORED = 1,
    BWD_DQ_EMPTY = 2,
    BWD_DQ_FULL = 4,
    BWD_KEY_PAIR = 6 /* dropout: the two warps of a 32-key Philox tile (keep_key_major) */
};
constexpr int BWD_DQ_PAIR = 128 + 32; /* a consumer warpgroup and the dQ warp */

/* A step of the CTA's walk: query head h, the sub-tile of run `run` at global position qbase. */
struct BwdStep {
    int h, run, qbase;
};

__device__ __forceinline__ BwdStep bwd_step_at(const SubTiles &qt, int g, int r, int j, int bq)
{
    BwdStep s;
    sub_tile_at(qt, j % qt.total, bq, s.run, s.qbase);
    s.h = g * r + j / qt.total;
    return s;
}

/* The producer warp: K and V, then each step's Q, dO, lse2 and D into the next ring buffers. */
template <typename T, class C>
__device__ __forceinline__ void bwd_tma_producer(const BwdTmaParams &prm,
                                                 BwdTmaBarriers<C::STAGES> &bar,
                                                 const BwdTmaSmem &sm, const Cta &w,
                                                 const pattn_item_t &it, const SubTiles &qt,
                                                 int steps)
{
    constexpr int D = C::D, BQ = C::BQ, S = C::STAGES;
    const pattn_cuda_bwd_args_t &a = prm.a;
    const int lane = threadIdx.x % 32, g = w.h;
    if (steps == 0)
        return;
    const Span keys = tile_span(it);
    if (span_holds(keys, it.tile_pos, C::ROWS)) {
        if (lane != 0) {
            mbar_arrive(&bar.kv_full);
        } else {
            tma_prefetch_desc(&prm.q);
            tma_prefetch_desc(&prm.dout);
            mbar_arrive_expect_tx(&bar.kv_full, 2 * C::KV_BYTES);
            const int row = buffer_row(w.b, a.kv.sample_rows, keys, it.tile_pos);
#pragma unroll
            for (int c = 0; c < D / 64; ++c) {
                tma_load_2d(sm.k + c * C::ROWS * 128, &prm.k, &bar.kv_full, g * D + 64 * c, row);
                tma_load_2d(sm.v + c * C::ROWS * 128, &prm.v, &bar.kv_full, g * D + 64 * c, row);
            }
        }
    } else {
        /* The tile ends inside the sequence's last keys: rows outside it become zeros. */
        const T *kg = head_rows<const T>(a.kv.k, a.kv.stride, a.kv.sample_rows, w.b, g, D);
        const T *vg = head_rows<const T>(a.kv.v, a.kv.stride, a.kv.sample_rows, w.b, g, D);
        load_tile_sw128<T, C::ROWS, D, 32, 4>(sm.k, kg, a.kv.stride, it.tile_pos, keys, lane);
        load_tile_sw128<T, C::ROWS, D, 32, 4>(sm.v, vg, a.kv.stride, it.tile_pos, keys, lane);
        warp_tiles_landed();
        mbar_arrive(&bar.kv_full);
    }
    for (int j = 0; j < steps; ++j) {
        const BwdStep sp = bwd_step_at(qt, g, a.r, j, BQ);
        const Span span = run_span(it.runs[sp.run]);
        const int st = j % S;
        mbar_wait(&bar.q_empty[st], ((j / S) & 1) ^ 1);
        for (int i = lane; i < BQ; i += 32) {
            const int t = span_row(span, sp.qbase + i);
            const int64_t at =
                (int64_t)w.b * a.lse_sample_stride + (int64_t)sp.h * a.lse_head_stride + t;
            sm.lse2[st * BQ + i] = t >= 0 ? lse_log2(a.lse[at]) : CUDART_INF_F;
            sm.dsum[st * BQ + i] = t >= 0 ? a.dsum[at] : 0.f;
        }
        unsigned char *const q_dst = sm.q + st * C::Q_BYTES, *const o_dst = sm.dout + st * C::Q_BYTES;
        if (span_holds(span, sp.qbase, BQ)) {
            if (lane != 0) {
                mbar_arrive(&bar.q_full[st]);
            } else {
                mbar_arrive_expect_tx(&bar.q_full[st], 2 * C::Q_BYTES);
                const int row = buffer_row(w.b, a.sample_rows, span, sp.qbase);
#pragma unroll
                for (int c = 0; c < D / 64; ++c) {
                    tma_load_2d(q_dst + c * BQ * 128, &prm.q, &bar.q_full[st], sp.h * D + 64 * c, row);
                    tma_load_2d(o_dst + c * BQ * 128, &prm.dout, &bar.q_full[st], sp.h * D + 64 * c,
                                row);
                }
            }
        } else {
            const T *qg = head_rows<const T>(a.q, a.q_stride, a.sample_rows, w.b, sp.h, D);
            const T *og = head_rows<const T>(a.dout, a.dout_stride, a.sample_rows, w.b, sp.h, D);
            load_tile_sw128<T, BQ, D, 32, 4>(q_dst, qg, a.q_stride, sp.qbase, span, lane);
            load_tile_sw128<T, BQ, D, 32, 4>(o_dst, og, a.dout_stride, sp.qbase, span, lane);
            warp_tiles_landed();
            mbar_arrive(&bar.q_full[st]);
        }
        __syncwarp();
    }
}

/* Stores the warp's dS^T (pack_p's operands: da[kk] holds queries 16 kk..) into the swizzled
 * [key][query] tile ds of ROWS keys, as boxes of 64 queries (128-byte rows, ROWS * 128 bytes
 * each): the warp's rows are the tile's keys from kw on. */
template <int NT, int ROWS>
__device__ __forceinline__ void store_ds(const uint32_t (&da)[NT / 2][4], unsigned char *ds, int kw)
{
    const int lane = threadIdx.x % 32;
#pragma unroll
    for (int kk = 0; kk < NT / 2; ++kk)
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const int row = kw + lane / 4 + 8 * (i % 2), col = 16 * (kk % 4) + 8 * (i / 2) + 2 * (lane % 4);
            *reinterpret_cast<uint32_t *>(ds + (kk / 4) * ROWS * 128 + row * 128 +
                                          (((col / 8) ^ (row % 8)) * 16) + (col % 8) * 2) = da[kk][i];
        }
}

/* Consumer c's dQ block of step sp (config.h: dq_half, dq_cols): its first query position, its
 * first row in the fp32 dQ buffer, its first column, and the rows it lacks before the buffer
 * (the consumer stores the block rotated up by those; a block wholly before the buffer, lack >=
 * 64, is not added). */
struct DqBlock {
    int pos, row, col, lack;
};
template <class C>
__device__ __forceinline__ DqBlock dq_block(const pattn_cuda_bwd_args_t &a, const Cta &w,
                                            const pattn_item_t &it, const BwdStep &sp, int c)
{
    DqBlock q;
    q.pos = sp.qbase + 64 * C::dq_half(c);
    q.row = buffer_row(w.b, a.sample_rows, run_span(it.runs[sp.run]), q.pos);
    q.col = sp.h * C::D + 64 * C::dq_cols(c);
    q.lack = q.row < 0 ? -q.row : 0;
    return q;
}

/* Consumer c's dQ block (64 queries x 64 columns, dq_block), times scale, into its staging tile
 * (two 128-byte swizzled boxes of 32 columns, the dQ map's), rows outside the run as zeros
 * (they may be another sequence's rows: written as zeros, not scaled by 0, as a NaN from an
 * infinity in K would survive that), once the dQ warp has read the previous one; the dQ warp
 * then adds the tile (bwd_tma_dq_warp). A block that starts before the buffer's first row (a
 * ring member's first run, whose first position is not the block's) is stored rotated up by
 * the rows it lacks and added at row 0: the reduction takes no negative coordinate (an illegal
 * instruction on the H200), and the rotated-in rows are zeros; a block wholly before it (lack
 * >= 64) is not added (dq_block). */
template <class C>
__device__ __forceinline__ void stage_dq(const pattn_cuda_bwd_args_t &a, const BwdTmaSmem &sm,
                                         const Cta &w, const pattn_item_t &it, const BwdStep &sp,
                                         const float (&dq)[8][4], int c)
{
    const int lane = threadIdx.x % 32, wq = ((threadIdx.x / 32) % 4) * 16;
    unsigned char *const stage = sm.dq + c * C::DQ_BYTES;
    const Span span = run_span(it.runs[sp.run]);
    const DqBlock q = dq_block<C>(a, w, it, sp, c);
    named_barrier_sync(BWD_DQ_EMPTY + c, BWD_DQ_PAIR);
#pragma unroll
    for (int hh = 0; hh < 2; ++hh) {
        const int r = wq + lane / 4 + 8 * hh, sr = (r - q.lack) & 63;
        const bool mine = r >= q.lack && span_row(span, q.pos + r) >= 0;
#pragma unroll
        for (int nt = 0; nt < 8; ++nt) {
            const int cc = (8 * nt + 2 * (lane % 4)) % 32, blk = nt / 4;
            float2 *const at = reinterpret_cast<float2 *>(
                stage + blk * 64 * 128 + sr * 128 + (((cc / 4) ^ (sr % 8)) * 16) + (cc % 4) * 4);
            /* selected, not multiplied by 0: a NaN there (an infinity in K) must stay out */
            *at = mine ? make_float2(a.scale * dq[nt][2 * hh], a.scale * dq[nt][2 * hh + 1])
                       : make_float2(0.f, 0.f);
        }
    }
    fence_proxy_async(); /* read by the TMA reductions (the async proxy) */
    named_barrier_arrive(BWD_DQ_FULL + c, BWD_DQ_PAIR);
}

/* The dQ warp: for every step and staging tile (one per consumer), once the tile is written,
 * adds it to the fp32 dQ with TMA reductions (lane 0) and hands the tile back once they have
 * read it, so that the consumers never wait for a reduction. In the deterministic mode
 * (a.turns) it adds a step's sub-tile only in the item's turn, once the sub-tile's counter has
 * counted the unit's earlier items (pattn_items_turns), and bumps the counter once the
 * additions are complete. A step's tiles are distinct blocks of dQ, so they need no order among
 * themselves. */
template <class C>
__device__ __forceinline__ void bwd_tma_dq_warp(const BwdTmaParams &prm, const BwdTmaSmem &sm,
                                                const Cta &w, const pattn_item_t &it,
                                                const SubTiles &qt, int steps, int index)
{
    const pattn_cuda_bwd_args_t &a = prm.a;
    const bool leader = threadIdx.x % 32 == 0, ordered = a.turns != nullptr;
    if (steps == 0)
        return;
    const pattn_item_turn_t turn = ordered ? a.turns[index] : pattn_item_turn_t{};
#pragma unroll
    for (int t = 0; t < C::CONSUMERS; ++t)
        named_barrier_arrive(BWD_DQ_EMPTY + t, BWD_DQ_PAIR); /* the tiles start free */
    for (int j = 0; j < steps; ++j) {
        const BwdStep sp = bwd_step_at(qt, w.h, a.r, j, C::BQ);
        int32_t *const counter =
            ordered ? a.dq_counters + ((int64_t)w.b * a.Hq + sp.h) * a.counters +
                          (sp.run == 0 ? turn.counter[0] : turn.counter[1]) + sp.qbase / C::BQ
                    : nullptr; /* the fast mode has no counters */
        if (ordered && leader)
            wait_counter(counter, turn.rank);
        __syncwarp();
#pragma unroll
        for (int t = 0; t < C::CONSUMERS; ++t) {
            unsigned char *const stage = sm.dq + t * C::DQ_BYTES;
            const DqBlock q = dq_block<C>(a, w, it, sp, t);
            named_barrier_sync(BWD_DQ_FULL + t, BWD_DQ_PAIR);
            if (leader && q.lack < 64) {
#pragma unroll
                for (int blk = 0; blk < 2; ++blk)
                    tma_reduce_add_2d(&prm.dq, stage + blk * 64 * 128, q.col + 32 * blk,
                                      q.row + q.lack);
                bulk_commit();
                bulk_wait_read<0>();
            }
            __syncwarp();
            if (j + 1 < steps) /* the tile's next use */
                named_barrier_arrive(BWD_DQ_EMPTY + t, BWD_DQ_PAIR);
        }
        if (ordered && leader) {
            bulk_wait<0>();
            bump_counter(counter);
        }
    }
    if (leader)
        bulk_wait<0>(); /* the reductions are done before the CTA ends */
}

/* Consumer warpgroup c: keys 64 c.. of the tile against every step. Step j + 1's S^T is issued
 * as soon as step j's dV and dK are done, and its dP^T once dQ(j) was staged, so that the tensor
 * cores run S^T(j + 1) under dQ(j)'s staging and dP^T(j + 1) under the softmax of S^T(j + 1)
 * (all of S^T, dP^T, dQ and the dK/dV accumulators at once do not fit in 240 registers); every
 * loop trip is the same (the last step's end is peeled off), as ptxas serialises wgmma whose
 * waits differ by path. */
template <typename T, class C, bool DROPOUT>
__device__ __forceinline__ void bwd_tma_consumer(const BwdTmaParams &prm,
                                                 BwdTmaBarriers<C::STAGES> &bar,
                                                 const BwdTmaSmem &sm, const Cta &w,
                                                 const pattn_item_t &it, const SubTiles &qt,
                                                 int steps, int c)
{
    constexpr int D = C::D, BQ = C::BQ, S = C::STAGES;
    static_assert(BWD_DQ_EMPTY + C::CONSUMERS <= BWD_DQ_FULL &&
                      BWD_DQ_FULL + C::CONSUMERS <= BWD_KEY_PAIR &&
                      BWD_KEY_PAIR + 2 * C::CONSUMERS <= 16,
                  "one named barrier of each kind per consumer, staging tile and warp pair, 16 in all");
    constexpr int NT = BQ / 8; /* 8-query chunks of S^T */
    constexpr int DT = D / 8;  /* 8-column chunks of dK and dV */
    static_assert(C::KEEP_BYTES == key_pair_exchange_words<NT>(C::CONSUMERS * 4) * 4 &&
                      C::ROWS % 32 == 0,
                  "the pair exchange's size (config.h); whole Philox tiles of keys per key tile");
    const pattn_cuda_bwd_args_t &a = prm.a;
    const int g = w.h;
    const int kw = c * 64 + ((threadIdx.x / 32) % 4) * 16; /* the warp's first key in the tile */
    const int row0 = it.tile_pos + kw;
    const uint32_t k_addr = smem_u32(sm.k), v_addr = smem_u32(sm.v);
    float dk[DT][4], dv[DT][4];
    zero(dk);
    zero(dv);
    if (steps == 0) {
        const Span keys = tile_span(it);
        grad_store_rows<T>(a.dk, a.dkv_stride, a.kv.sample_rows, a.accumulate, w.b, g, D, 0, keys,
                           row0, dk, a.scale);
        grad_store_rows<T>(a.dv, a.dkv_stride, a.kv.sample_rows, a.accumulate, w.b, g, D, 0, keys,
                           row0, dv, 1.f);
        return;
    }
    mbar_wait(&bar.kv_full, 0); /* K and V landed (their loads complete on their own barrier) */
    float s[NT][4], dp[NT][4], dq[8][4]; /* S^T then P^T; dP^T then dS^T; this step's dQ part */
    /* Step j's S^T = K Q^T once its Q and dO landed, and its dP^T = V dO^T. */
    auto issue_s = [&](int j) {
        const int st = j % S;
        mbar_wait(&bar.q_full[st], (j / S) & 1);
        wgmma_fence();
        issue_abt<T, D, C::ROWS, BQ>(s, k_addr + c * 64 * 128, smem_u32(sm.q + st * C::Q_BYTES));
    };
    auto issue_dp = [&](int j) {
        wgmma_fence();
        issue_abt<T, D, C::ROWS, BQ>(dp, v_addr + c * 64 * 128,
                                     smem_u32(sm.dout + (j % S) * C::Q_BYTES));
    };
    /* Step j from its issued scores to its issued dQ, with dV and dK done and Q, dO released. */
    auto finish_step = [&](int j, const BwdStep &sp) {
        const pattn_item_run_t &run = it.runs[sp.run];
        const int st = j % S;
        const uint32_t q_addr = smem_u32(sm.q + st * C::Q_BYTES);
        const uint32_t o_addr = smem_u32(sm.dout + st * C::Q_BYTES);
        const float *const sL = sm.lse2 + st * BQ, *const sD = sm.dsum + st * BQ;
        Keep<NT> keep;
        if (DROPOUT) {
            /* warps 2 i and 2 i + 1 of a warpgroup share a Philox tile (the key tile is a
             * multiple of 32 keys) */
            const KeyPair pair = key_pair_at<NT>(sm.keep, C::CONSUMERS * 4,
                                                 c * 4 + (threadIdx.x / 32) % 4, j, BWD_KEY_PAIR);
            keep = keep_key_major<NT>(
                a.drop, a.drop.offset + ((uint64_t)w.unit * a.Hq + sp.h) * 32u, row0, sp.qbase, pair);
        }
        wgmma_wait<1>();
        fence_tile(s);
        const bool masked = sub_tile_needs_mask<PATTN_KEY_MAJOR>(it.pos, it.len, run, sp.qbase, BQ);
        if (masked)
            mask_tile<PATTN_KEY_MAJOR>(s, row0, sp.qbase, run);
        probs_by_column(s, sL, a.scale_log2, masked);
        wgmma_wait<0>();
        fence_tile(dp);
        if (DROPOUT)
            apply_keep(dp, keep, a.drop.keep_scale);
        ds_by_column(dp, s, sD);
        if (DROPOUT)
            apply_keep(s, keep, a.drop.keep_scale); /* P^T Z s */
        uint32_t pa[NT / 2][4], da[NT / 2][4];
        pack_p<T>(s, pa);
        pack_p<T>(dp, da);
        unsigned char *const ds = sm.ds + st * C::DS_BYTES;
        store_ds<NT, C::ROWS>(da, ds, kw);
        fence_proxy_async(); /* dS^T is read by the other warpgroup's wgmma too */
        wgmma_fence();
        issue_pb<T, D, BQ>(dv, pa, o_addr);
        issue_pb<T, D, BQ>(dk, da, q_addr);
        /* dQ block c (dq_block): its query half of dS^T and column block of K, all ROWS keys */
        named_barrier_sync(BWD_DS_STORED, 128 * C::CONSUMERS);
        issue_atb<T, C::ROWS>(dq, smem_u32(ds) + C::dq_half(c) * C::ROWS * 128,
                              k_addr + C::dq_cols(c) * C::ROWS * 128);
        wgmma_wait<1>(); /* dV and dK are done; dQ may still run */
        fence_tile(dv);
        fence_tile(dk);
        mbar_arrive(&bar.q_empty[st]); /* each thread: its own reads of lse2 and D */
    };
    issue_s(0);
    issue_dp(0);
    BwdStep sp = bwd_step_at(qt, g, a.r, 0, BQ);
    for (int j = 0; j + 1 < steps; ++j) {
        finish_step(j, sp);
        issue_s(j + 1);
        wgmma_wait<1>(); /* dQ(j) is done */
        fence_tile(dq);
        stage_dq<C>(a, sm, w, it, sp, dq, c);
        issue_dp(j + 1);
        sp = bwd_step_at(qt, g, a.r, j + 1, BQ);
    }
    finish_step(steps - 1, sp);
    wgmma_wait<0>();
    fence_tile(dq);
    stage_dq<C>(a, sm, w, it, sp, dq, c);
    const Span keys = tile_span(it);
    grad_store_rows<T>(a.dk, a.dkv_stride, a.kv.sample_rows, a.accumulate, w.b, g, D, 0, keys, row0,
                       dk, a.scale);
    grad_store_rows<T>(a.dv, a.dkv_stride, a.kv.sample_rows, a.accumulate, w.b, g, D, 0, keys, row0,
                       dv, 1.f);
}

template <typename T, class C, bool DROPOUT>
__global__ void __launch_bounds__(C::THREADS, 1)
    bwd_tma_kernel(const __grid_constant__ BwdTmaParams prm)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    constexpr int S = C::STAGES;
    extern __shared__ unsigned char smem_raw[];
    unsigned char *const smem = smem_raw + ((1024u - (smem_u32(smem_raw) & 1023u)) & 1023u);
    BwdTmaSmem sm;
    sm.k = smem;
    sm.v = sm.k + C::KV_BYTES;
    sm.q = sm.v + C::KV_BYTES;
    sm.dout = sm.q + S * C::Q_BYTES;
    sm.ds = sm.dout + S * C::Q_BYTES;
    sm.dq = sm.ds + S * C::DS_BYTES;
    sm.lse2 = reinterpret_cast<float *>(sm.dq + C::CONSUMERS * C::DQ_BYTES);
    sm.dsum = sm.lse2 + S * C::BQ;
    sm.keep = reinterpret_cast<uint32_t *>(sm.dsum + S * C::BQ);
    __shared__ BwdTmaBarriers<S> bar;
    __shared__ pattn_item_t item;
    if (threadIdx.x == 0) {
        mbar_init(&bar.kv_full, 32);
        for (int s = 0; s < S; ++s) {
            mbar_init(&bar.q_full[s], 32);
            mbar_init(&bar.q_empty[s], 128 * C::CONSUMERS);
        }
        mbar_init_fence();
    }
    /* The item and its sub-tiles in shared memory: read there, they need no registers across
     * the consumers' loop (held in registers they spilled). */
    __shared__ SubTiles qt;
    const int hkv = prm.a.Hq / prm.a.r, x = (int)blockIdx.x;
    Cta w = cta_at(prm.a.items, prm.a.num_items, hkv,
                   prm.a.turns ? pattn_ordered_work(x, prm.a.num_items, hkv * prm.a.B, C::ORDER_GROUP)
                                 : x);
    const int index = (int)(w.item - prm.a.items);
    if (threadIdx.x == 32)
        qt = sub_tiles<PATTN_KEY_MAJOR>(*w.item, C::BQ);
    stage_item(item, w.item); /* ends in __syncthreads: the barriers are initialised too */
    w.item = &item;
    const int steps = qt.total * prm.a.r;
    /* warp-uniform to ptxas (fwd_tma.cuh), then each warpgroup's register budget (config.h) */
    const int wg = __shfl_sync(0xffffffffu, (int)threadIdx.x / 128, 0);
    if (wg > 0) {
        set_max_regs_inc<C::CONSUMER_REGS>();
        bwd_tma_consumer<T, C, DROPOUT>(prm, bar, sm, w, item, qt, steps, wg - 1);
    } else {
        set_max_regs_dec<C::PRODUCER_REGS>();
        if (threadIdx.x < 32)
            bwd_tma_producer<T, C>(prm, bar, sm, w, item, qt, steps);
        else if (threadIdx.x < 64)
            bwd_tma_dq_warp<C>(prm, sm, w, item, qt, steps, index);
    }
#else
    __trap(); /* built without sm_90a: the registry never picks this kernel (registry.cu) */
#endif
}

template <class C> struct BwdTma {
    static constexpr bool FP32 = false;
    template <typename T, bool DROPOUT>
    static cudaError_t run(const pattn_cuda_bwd_args_t *a, cudaStream_t stream)
    {
        BwdTmaParams prm;
        prm.a = *a;
        const int hkv = a->Hq / a->r;
        const uint64_t q_rows = (uint64_t)a->B * a->sample_rows;
        const uint64_t kv_rows = (uint64_t)a->B * a->kv.sample_rows;
        cudaError_t e = pattn_cuda_tile_map(&prm.q, a->q, 2, (uint64_t)a->Hq * a->D, q_rows,
                                            a->q_stride * 2, C::BQ);
        if (e == cudaSuccess)
            e = pattn_cuda_tile_map(&prm.dout, a->dout, 2, (uint64_t)a->Hq * a->D, q_rows,
                                    a->dout_stride * 2, C::BQ);
        if (e == cudaSuccess)
            e = pattn_cuda_tile_map(&prm.k, a->kv.k, 2, (uint64_t)hkv * a->D, kv_rows,
                                    a->kv.stride * 2, C::ROWS);
        if (e == cudaSuccess)
            e = pattn_cuda_tile_map(&prm.v, a->kv.v, 2, (uint64_t)hkv * a->D, kv_rows,
                                    a->kv.stride * 2, C::ROWS);
        if (e == cudaSuccess)
            e = pattn_cuda_tile_map(&prm.dq, a->dq, 4, (uint64_t)a->Hq * a->D, q_rows,
                                    a->dq_stride * 4, 64); /* dq_block's rows */
        if (e != cudaSuccess)
            return e;
        const int ctas = a->num_items * hkv * a->B;
        return launch_kernel<bwd_tma_kernel<T, C, DROPOUT>>(ctas, C::THREADS, C::SMEM, stream, prm);
    }
};

} // namespace pattn

/* Defines pattn_cuda_bwd_tma_d<D> (registry.h). */
#define PATTN_DEFINE_BWD_TMA(D_)                                                                   \
    PATTN_DEFINE_LAUNCHER(bwd_tma, D_,                                                             \
                          pattn::dispatch_bwd<pattn::BwdTma<pattn::TmaBwd<D_>>>)

#endif /* PATTN_CUDA_BWD_TMA_CUH */
