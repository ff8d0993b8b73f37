/*
 * config.h: the tile configuration of every CUDA kernel, each declared once. The kernels read
 * their shapes from here and the registry (registry.cu) gives the item builder ROWS, the tile of
 * the items, from the same struct, so a kernel never runs items cut for another tile.
 *
 * Shared-memory rows are padded by 16 bytes (PITCH = D + 8 elements) so that ldmatrix is free of
 * bank conflicts. Head dims below a variant's D are zero-padded in shared memory; a head dim runs
 * on the smallest variant that holds it.
 */
#ifndef PATTN_CUDA_CONFIG_H
#define PATTN_CUDA_CONFIG_H

#include <stddef.h>

#include "hd.h"

namespace pattn {

/* The forward on mma.sync m16n8k16 (FlashAttention-2's choices for sm_80+): ROWS query rows per
 * CTA in NW warps of MT 16-row tiles each, BC keys per step. */
template <int D_, int MT_, int NW_, int BC_> struct MmaFwdConfig {
    static constexpr int D = D_, MT = MT_, NW = NW_, BC = BC_;
    static constexpr int ROWS = 16 * MT * NW;
    static constexpr int THREADS = 32 * NW;
    static constexpr int PITCH = D + 8;
    static constexpr int MIN_CTAS = NW == 4 ? 2 : 1;
    static constexpr size_t SMEM = (size_t)(ROWS + 4 * BC) * PITCH * 2; /* Q, 2 x (K, V) */
    static_assert(D % 32 == 0 && BC % 32 == 0, "head dims and key tiles are multiples of 32");
};
template <int D> struct MmaFwd;
template <> struct MmaFwd<32> : MmaFwdConfig<32, 2, 4, 128> {};
template <> struct MmaFwd<64> : MmaFwdConfig<64, 2, 4, 128> {}; /* 4% faster than BC = 64 */
template <> struct MmaFwd<96> : MmaFwdConfig<96, 2, 4, 64> {};
template <> struct MmaFwd<128> : MmaFwdConfig<128, 2, 4, 64> {};
template <> struct MmaFwd<160> : MmaFwdConfig<160, 1, 8, 64> {};
template <> struct MmaFwd<192> : MmaFwdConfig<192, 1, 8, 64> {};
template <> struct MmaFwd<224> : MmaFwdConfig<224, 1, 8, 64> {};
template <> struct MmaFwd<256> : MmaFwdConfig<256, 1, 8, 64> {};

/* The Hopper forward (sm_90a wgmma), head dims 64 and 128: two consumer warpgroups of 64 rows. */
template <int D_> struct WgmmaFwd {
    static constexpr int D = D_;
    static constexpr int ROWS = 128; /* query rows: 64 per warpgroup */
    static constexpr int BC = 128;   /* keys per step */
    static constexpr int THREADS = 256;
    /* d64: two CTAs per SM (registers capped at 128: ~60 bytes spill) ran 1.26x one (PERF.md). */
    static constexpr int MIN_CTAS = D_ == 64 ? 2 : 1;
    /* Ping-pong: warpgroup 1 issues S = Q K^T only once warpgroup 0's S is done, so that in each
     * tile one warpgroup's softmax runs while the other's products use the tensor cores. d128:
     * +9%; d64 (two CTAs per SM already interleave): no gain, so it issues in lockstep. */
    static constexpr bool PINGPONG = D_ == 128;
    static constexpr unsigned Q_BYTES = ROWS * D * 2, KV_BYTES = BC * D * 2;
    /* Q, 2 x (K, V), and 1 KB to align the base to the swizzle's 1024-byte pattern. */
    static constexpr size_t SMEM = Q_BYTES + 4 * KV_BYTES + 1024;
    static_assert(D == 64 || D == 128, "the wgmma kernel has head dims 64 and 128");
};

/* The warp-specialised Hopper forward (sm_90a: TMA, mbarriers, wgmma), head dims D multiples of
 * 32 from 64 to 256: a
 * persistent CTA of one producer warpgroup (one warp issues the loads) and CONSUMERS consumer
 * warpgroups of 64 query rows each, taking turns on the tensor cores (ping-pong) and each
 * overlapping its softmax of key tile j with its P V of tile j - 1. K and V each have a ring of
 * STAGES buffers. Registers (setmaxnreg): the producer warpgroup keeps PRODUCER_REGS (with 24
 * its cp.async path spills), the consumers take CONSUMER_REGS, enough for O (D / 2), S (BC / 2),
 * the previous P (BC / 4) and with dropout the keep flags (BC / 8) at once. Dropout's Philox runs
 * in the consumers (computing the bits in the producer warpgroup's idle warps ran slower,
 * PERF.md). CONSUMERS_ = 3 (FA3's 192-row tiles, d64 only: fwd_tma_wide.cuh) runs where it
 * measured faster than two (registry.cu has the numbers: without dropout, causal from 1536
 * queries); two elsewhere. */
template <int D_, int CONSUMERS_ = 2> struct TmaFwd {
    static constexpr int D = D_;
    /* Shared-memory tiles are whole 64-column swizzle blocks, DP columns: S = Q K^T contracts
     * over the D columns only, and O = P V runs DP wide, its columns >= D (whatever the last
     * block's loads brought: the next head's columns, zeros, stale ones) never stored. */
    static constexpr int DP = (D_ + 63) / 64 * 64;
    static constexpr int CONSUMERS = CONSUMERS_;
    static constexpr int ROWS = 64 * CONSUMERS; /* query rows: 64 per consumer warpgroup */
    /* keys per step: at d128 1.10-1.17x the 96 of 168 registers; above d128 O takes D / 2
     * registers, so S and P shrink to 64 keys (FA3: 112 at d192, 80 at d256) */
    static constexpr int BC = DP <= 128 ? 128 : 64;
    static constexpr int THREADS = 128 * (CONSUMERS + 1);
    static constexpr int STAGES = 2;
    /* three consumers: 32 + 3 x 160 fills the 512 threads' 128 registers each */
    static constexpr int PRODUCER_REGS = CONSUMERS == 3 ? 32 : 40;
    static constexpr int CONSUMER_REGS = CONSUMERS == 3 ? 160 : 232;
    static constexpr unsigned Q_BYTES = ROWS * DP * 2, KV_BYTES = BC * DP * 2;
    /* Q, STAGES x (K, V), and 1 KB to align the base to the swizzle's 1024-byte pattern. */
    static constexpr size_t SMEM = Q_BYTES + 2 * STAGES * KV_BYTES + 1024;
    static_assert(D % 32 == 0 && D >= 64 && D <= 256,
                  "the TMA forward has head dims 64 to 256 in steps of 32 (k16 steps of S, whole "
                  "16-byte copies of a row)");
    static_assert(CONSUMERS == 2 || (CONSUMERS == 3 && D == 64),
                  "three consumer warpgroups at d64 only: at 160 registers wider O tiles spill");
    static_assert(BC % 32 == 0 && KV_BYTES % 1024 == 0 && Q_BYTES % 1024 == 0,
                  "whole dropout groups and swizzle atoms");
    /* setmaxnreg.inc waits for registers the other warps gave up: the budgets must fit in what
     * the CTA was launched with (384 threads x 168 = 64512; at 65536 the consumers never start) */
    static_assert(128 * PRODUCER_REGS + 128 * CONSUMERS * CONSUMER_REGS <=
                      THREADS * (65536 / THREADS / 8 * 8),
                  "register budgets");
};

/* The warp-specialised Hopper backward (sm_90a), head dims 64 and 128: one pass per key tile of ROWS
 * keys (one CTA per key-major item x KV head x sample), a producer warp loading K and V once and
 * Q, dO, lse and D of each BQ-query step into STAGES-deep rings, and CONSUMERS warpgroups of 64
 * keys each. Per step a warpgroup holds dK and dV (64 x D: D / 2 registers each), S^T and dP^T
 * (64 x BQ: BQ / 2 each) and one 64 x 64 block of the step's dQ (32), so both head dims peak at
 * 192 accumulators: d128 steps 64 queries, d64 128 (FlashAttention-3's tiles). dS^T goes
 * through shared memory (STAGES buffers) for dQ, and consumer c takes the dQ block of query
 * half dq_half(c) and column block dq_cols(c) over all ROWS keys: at d128 columns 64 c.., at
 * d64 queries 64 c... */
template <int D_> struct TmaBwd {
    static constexpr int D = D_;
    static constexpr int CONSUMERS = 2;
    static constexpr int ROWS = 64 * CONSUMERS; /* keys: 64 per consumer warpgroup */
    static constexpr int BQ = D_ == 64 ? 128 : 64; /* queries per step */
    /* consumer c's dQ block: this query half of the step, this 64-column block */
    static PATTN_HD constexpr int dq_half(int c) { return c / (D_ / 64); }
    static PATTN_HD constexpr int dq_cols(int c) { return c % (D_ / 64); }
    static constexpr int THREADS = 128 * (CONSUMERS + 1);
    static constexpr int STAGES = 2;
    static constexpr int PRODUCER_REGS = 40, CONSUMER_REGS = 232;
    /* the deterministic mode's launch order (pattn_ordered_work): reps per group, measured on
     * the H200 (PERF.md): at d64 16 against 8 +2-11% at causal, -2-3% at full 8K; at d128 8 */
    static constexpr int ORDER_GROUP = D_ == 64 ? 16 : 8;
    static constexpr unsigned KV_BYTES = ROWS * D * 2, Q_BYTES = BQ * D * 2, DS_BYTES = ROWS * BQ * 2;
    static constexpr unsigned DQ_BYTES = 64 * 64 * 4; /* a consumer's fp32 dQ staging tile */
    /* dropout's pair exchange: two sets of a word per lane and 16-query group quad, per warp */
    static constexpr unsigned KEEP_BYTES = 2 * CONSUMERS * 4 * ((BQ / 16 + 3) / 4) * 32 * 4;
    /* K, V; per stage Q, dO, dS^T, lse and D; the dQ tiles; the pair exchange; 1 KB to align
     * the base to the swizzle pattern. */
    static constexpr size_t SMEM = 2 * KV_BYTES + STAGES * (2 * Q_BYTES + DS_BYTES + 2 * BQ * 4) +
                                   CONSUMERS * DQ_BYTES + KEEP_BYTES + 1024;
    static_assert(D == 64 || D == 128, "the TMA backward has head dims 64 and 128");
    static_assert(CONSUMERS == (BQ / 64) * (D / 64), "one 64 x 64 dQ block per consumer");
    static_assert(BQ % 64 == 0 && KV_BYTES % 1024 == 0 && Q_BYTES % 1024 == 0 &&
                      DS_BYTES % 1024 == 0,
                  "dS^T as 128-byte swizzle rows of 64 queries; swizzle atoms");
    static_assert(SMEM <= 227 * 1024, "the H200's shared memory per block");
    static_assert(128 * PRODUCER_REGS + 128 * CONSUMERS * CONSUMER_REGS <=
                      THREADS * (65536 / THREADS / 8 * 8),
                  "register budgets");
};

/* The general forward on the CUDA cores in fp32 (every dtype, fp32 its main use): a CTA of 4
 * warps runs ROWS query rows (RPW per warp) against key tiles of BC keys, one per lane. */
struct SimtFwd {
    static constexpr int THREADS = 128, ROWS = 16, BC = 32, RPW = ROWS / 4;
    static constexpr int MAXT = 8; /* output columns per lane: 256 / 32 */
};

/* The backward's dK/dV pass on mma.sync: key-major, ROWS = 16 NW keys per CTA (a warp owns 16
 * keys and all output columns of its chunk), BQ queries per step; NC chunks of the output
 * columns (DC each: the CTA of chunk c owns columns [c DC, (c + 1) DC) of dK and dV; S and dP
 * contract over all D columns in every chunk). */
template <int D_, int NW_, int BQ_, int NC_> struct MmaDkdvConfig {
    static constexpr int D = D_, NW = NW_, BQ = BQ_, NC = NC_;
    static constexpr int ROWS = 16 * NW;
    static constexpr int DC = D / NC;
    static constexpr int THREADS = 32 * NW;
    static constexpr int PITCH = D + 8;
    /* K, V (ROWS x D), 2 x (Q, dO) (BQ x D), 2 x (lse, dsum) (BQ fp32) */
    static constexpr size_t SMEM = (size_t)(2 * ROWS + 4 * BQ) * PITCH * 2 + 4 * BQ * 4;
    static_assert(D % 32 == 0 && DC % 16 == 0 && BQ % 32 == 0, "tiles of 16 x 32 elements");
};
template <int D> struct MmaDkdv;
template <> struct MmaDkdv<32> : MmaDkdvConfig<32, 4, 64, 1> {};
template <> struct MmaDkdv<64> : MmaDkdvConfig<64, 8, 64, 1> {};
template <> struct MmaDkdv<96> : MmaDkdvConfig<96, 8, 64, 1> {};
template <> struct MmaDkdv<128> : MmaDkdvConfig<128, 8, 64, 1> {};
template <> struct MmaDkdv<160> : MmaDkdvConfig<160, 4, 32, 2> {};
template <> struct MmaDkdv<192> : MmaDkdvConfig<192, 4, 32, 2> {};
template <> struct MmaDkdv<224> : MmaDkdvConfig<224, 4, 32, 2> {};
template <> struct MmaDkdv<256> : MmaDkdvConfig<256, 4, 32, 2> {};

/* The backward's dQ pass on mma.sync: query-major like the forward, ROWS = 16 NW query rows per
 * CTA (a warp owns 16 rows and all D columns of dQ), BC keys per step. */
template <int D_, int NW_, int BC_> struct MmaDqConfig {
    static constexpr int D = D_, NW = NW_, BC = BC_;
    static constexpr int ROWS = 16 * NW;
    static constexpr int THREADS = 32 * NW;
    static constexpr int PITCH = D + 8;
    /* Q, dO (ROWS x D), 2 x (K, V) (BC x D) */
    static constexpr size_t SMEM = (size_t)(2 * ROWS + 4 * BC) * PITCH * 2;
    static_assert(D % 32 == 0 && BC % 32 == 0, "tiles of 16 x 32 elements");
};
template <int D> struct MmaDq;
template <> struct MmaDq<32> : MmaDqConfig<32, 4, 64> {};
template <> struct MmaDq<64> : MmaDqConfig<64, 4, 64> {};
template <> struct MmaDq<96> : MmaDqConfig<96, 4, 64> {};
template <> struct MmaDq<128> : MmaDqConfig<128, 4, 64> {};
template <> struct MmaDq<160> : MmaDqConfig<160, 4, 32> {};
template <> struct MmaDq<192> : MmaDqConfig<192, 4, 32> {};
template <> struct MmaDq<224> : MmaDqConfig<224, 4, 32> {};
template <> struct MmaDq<256> : MmaDqConfig<256, 4, 32> {};

/* The general backward in fp32: dK/dV with one warp per CTA, lane j owning key j of ROWS = 32
 * keys (its dK and dV rows accumulate in shared memory); dQ like the general forward. */
struct SimtDkdv {
    static constexpr int THREADS = 32, ROWS = 32;
};
struct SimtDq {
    static constexpr int THREADS = 128, ROWS = 16, BC = 32, RPW = ROWS / 4, MAXT = 8;
};

} // namespace pattn

#endif /* PATTN_CUDA_CONFIG_H */
