/*
 * fwd_wgmma.cuh: the Hopper (sm_90a) forward kernel for head dims 64 and 128, fp16 and bf16:
 * FlashAttention-2's algorithm on warpgroup MMA. Same work items, masks, dropout, modes and
 * results as the mma.sync kernel (fwd_mma.cuh); only the matrix products differ:
 *
 *   two warpgroups of 4 warps, each owning 64 of the tile's BR = 128 query rows (at d128 they
 *   take turns on the tensor cores: ping-pong, WgmmaConfig); Q, and K and V
 *   (double-buffered, cp.async: the next tile's loads fly while this one computes) live in
 *   shared memory in the 128-byte swizzled layout wgmma reads (wgmma_ops.cuh);
 *   S = Q K^T: wgmma m64n128k16 with both operands from shared memory (K-major);
 *   mask, online softmax (exp2, scale * log2(e) folded), dropout: in registers. The wgmma
 *   accumulator gives warp w of a warpgroup rows 16w..16w+15 in the m16n8 layout of mma.sync,
 *   so each thread holds the same elements (and Philox lanes) as in the mma.sync kernel;
 *   O += P V: wgmma m64nDk16 with P from registers (the accumulator layout is the A-fragment
 *   layout) and V from shared memory, N-major (the transpose bit).
 */
#ifndef PATTN_CUDA_FWD_WGMMA_CUH
#define PATTN_CUDA_FWD_WGMMA_CUH

#include <cuda_runtime.h>

#include "fwd_common.cuh"
#include "mma_ops.cuh"
#include "philox.h"
#include "smem_limit.cuh"
#include "wgmma_ops.cuh"

namespace pattn {

template <int D_> struct WgmmaConfig {
    static constexpr int D = D_;
    static constexpr int BR = 128; /* query rows: 64 per warpgroup */
    static constexpr int BC = 128; /* keys per step */
    static constexpr int THREADS = 256;
    /* d64: two CTAs per SM (registers capped at 128: ~60 bytes spill) ran 1.26x one (PERF.md). */
    static constexpr int MIN_CTAS = D_ == 64 ? 2 : 1;
    /* Ping-pong: warpgroup 1 issues S = Q K^T only once warpgroup 0's S is done, so that in each
     * tile one warpgroup's softmax runs while the other's products use the tensor cores (FA3's
     * schedule, here within a tile). d128 (one CTA per SM): +9%; d64 (two CTAs per SM, which
     * already interleave): no gain (median -0.2%), so d64 issues in lockstep (PERF.md). */
    static constexpr bool PINGPONG = D_ == 128;
    static constexpr uint32_t Q_BYTES = BR * D * 2, KV_BYTES = BC * D * 2;
    /* Q, 2 x (K, V), and 1 KB to align the base to the swizzle's 1024-byte pattern. */
    static constexpr size_t SMEM = Q_BYTES + 4 * KV_BYTES + 1024;
    static_assert(D == 64 || D == 128, "the wgmma kernel has head dims 64 and 128");
};

/* Loads ROWS rows of D columns at global positions base.. of span s into a swizzled tile at
 * shared byte address dst (rows the span does not hold become zeros). */
template <typename T, int ROWS, int D, int THREADS>
__device__ __forceinline__ void load_tile_sw128(unsigned char *dst, const T *g, int64_t stride,
                                                int base, const Span &s)
{
    constexpr int CPR = D / 8; /* 16-byte chunks per row */
    static_assert((ROWS * CPR) % THREADS == 0, "tile chunks must be a multiple of the threads");
#pragma unroll
    for (int i = 0; i < ROWS * CPR / THREADS; ++i) {
        const int idx = (int)threadIdx.x + i * THREADS;
        const int row = idx / CPR, c = idx % CPR;
        const int src_row = span_row(s, base + row);
        const T *src = g + (int64_t)max(src_row, 0) * stride + c * 8;
        cp_async16(dst + sw128_offset(ROWS, row, c), src, src_row >= 0 ? 16 : 0);
    }
}

template <typename T, class C, bool DROPOUT>
__global__ void __launch_bounds__(C::THREADS, C::MIN_CTAS)
    fwd_wgmma_kernel(const __grid_constant__ pattn_cuda_fwd_launch_t L)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    constexpr int D = C::D, BC = C::BC, BR = C::BR;
    constexpr int NT = BC / 8; /* 8-key column chunks of S */
    constexpr int DT = D / 8;  /* 8-column chunks of O */
    extern __shared__ unsigned char smem_raw[];
    unsigned char *const smem = smem_raw + ((1024u - (smem_u32(smem_raw) & 1023u)) & 1023u);
    unsigned char *const sQ = smem;
    unsigned char *const sK0 = sQ + C::Q_BYTES; /* K and V of tile j live in buffer j % 2 */
    unsigned char *const sV0 = sK0 + 2 * C::KV_BYTES;

    const pattn_cuda_fwd_args_t &a = L.a;
    const CtaWork w = cta_work(L);
    const pattn_cuda_item_t &it = *w.item;
    const int lane = threadIdx.x % 32;
    const int wg = threadIdx.x / 128;
    const int wrow = wg * 64 + ((threadIdx.x / 32) % 4) * 16; /* the warp's first row */

    const T *qg = static_cast<const T *>(a.q) + (int64_t)w.b * a.q_sample_rows * a.q_stride +
                  (int64_t)w.h * a.D;
    const int64_t kv_off =
        (int64_t)w.b * a.kv_sample_rows * a.kv_stride + (int64_t)(w.h / a.r) * a.D;
    const T *kg = static_cast<const T *>(a.k) + kv_off;
    const T *vg = static_cast<const T *>(a.v) + kv_off;

    float o[DT * 4]; /* chunk dt: rows lane/4 (+8 for elements 2, 3), columns dt*8 + 2(lane%4) */
    float m[2], l[2];
#pragma unroll
    for (int i = 0; i < DT * 4; ++i)
        o[i] = 0.f;
#pragma unroll
    for (int hh = 0; hh < 2; ++hh) {
        m[hh] = -CUDART_INF_F;
        l[hh] = 0.f;
    }

    const KeyTiles kt = key_tiles(it, BC);
    const float sl2 = a.scale_log2;
    const uint32_t q_addr = smem_u32(sQ) + wg * 64 * 128; /* this warpgroup's 64 rows */

    auto load_kv = [&](int j) {
        int run_i, kbase;
        key_tile_at(kt, j, BC, run_i, kbase);
        const Span span = key_span(it.runs[run_i]);
        load_tile_sw128<T, BC, D, C::THREADS>(sK0 + (j % 2) * C::KV_BYTES, kg, a.kv_stride, kbase,
                                              span);
        load_tile_sw128<T, BC, D, C::THREADS>(sV0 + (j % 2) * C::KV_BYTES, vg, a.kv_stride, kbase,
                                              span);
        cp_async_commit();
    };
    if (kt.total > 0) {
        load_tile_sw128<T, BR, D, C::THREADS>(sQ, qg, a.q_stride, it.tile_pos, query_span(it));
        load_kv(0);
    }

    for (int j = 0; j < kt.total; ++j) {
        int run_i, kbase;
        key_tile_at(kt, j, BC, run_i, kbase);
        const pattn_cuda_run_t &run = it.runs[run_i];
        const uint32_t k_addr = smem_u32(sK0 + (j % 2) * C::KV_BYTES);
        const uint32_t v_addr = smem_u32(sV0 + (j % 2) * C::KV_BYTES);
        cp_async_wait_all();
        fence_proxy_async(); /* this thread's cp.async bytes are read by wgmma next */
        __syncthreads();     /* tile j (and Q) landed; every warp is done with tile j - 1 */
        if (j + 1 < kt.total)
            load_kv(j + 1); /* lands while tile j computes */

        /* S = Q K^T: D / 16 steps of k16; a step moves 32 bytes within a 64-column block. */
        float s[NT * 4];
        if (C::PINGPONG && wg == 1)
            named_barrier_sync(1, C::THREADS); /* warpgroup 0's S is done */
        wgmma_fence();
#pragma unroll
        for (int ks = 0; ks < D / 16; ++ks) {
            const uint32_t off = (ks % 4) * 32;
            const uint64_t da = sw128_desc(q_addr + (ks / 4) * BR * 128 + off, 16, 1024);
            const uint64_t db = sw128_desc(k_addr + (ks / 4) * BC * 128 + off, 16, 1024);
            if (ks == 0)
                Wgmma<T, BC>::ss_init(s, da, db);
            else
                Wgmma<T, BC>::ss(s, da, db, 1);
        }
        wgmma_commit();
        wgmma_wait<0>();
#pragma unroll
        for (int i = 0; i < NT * 4; ++i)
            fence_reg(s[i]);
        if (C::PINGPONG && wg == 0)
            named_barrier_arrive(1, C::THREADS);

        /* Mask. Element e of chunk nt is row lane/4 + 8 (e/2), key kbase + c0 + nt*8 + e%2;
         * each row sees the keys in [lo, hi) relative to c0. */
        const bool masked = tile_needs_mask(run, kbase, BC, it.q_pos);
        if (masked) {
            const int c0 = kbase + 2 * (lane % 4);
#pragma unroll
            for (int hh = 0; hh < 2; ++hh) {
                const int qpos = it.tile_pos + wrow + lane / 4 + hh * 8;
                const int lo = run.pos - c0;
                int hi = run.pos + run.len - c0;
                if (run.causal)
                    hi = min(hi, qpos + run.shift + 1 - c0);
#pragma unroll
                for (int nt = 0; nt < NT; ++nt)
#pragma unroll
                    for (int e = 0; e < 2; ++e)
                        if (nt * 8 + e < lo || nt * 8 + e >= hi)
                            s[nt * 4 + 2 * hh + e] = -CUDART_INF_F;
            }
        }

        /* Online softmax: new row max, rescale O and l, P = exp2(S scale log2e - max). */
#pragma unroll
        for (int hh = 0; hh < 2; ++hh) {
            float mx = m[hh];
#pragma unroll
            for (int nt = 0; nt < NT; ++nt)
                mx = fmaxf(mx, fmaxf(s[nt * 4 + 2 * hh], s[nt * 4 + 2 * hh + 1]));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
            const float msc = mx == -CUDART_INF_F ? 0.f : mx * sl2;
            const float alpha = m[hh] == -CUDART_INF_F ? 0.f : ex2(m[hh] * sl2 - msc);
            m[hh] = mx;
#pragma unroll
            for (int dt = 0; dt < DT; ++dt) {
                o[dt * 4 + 2 * hh] *= alpha;
                o[dt * 4 + 2 * hh + 1] *= alpha;
            }
            float sum = 0.f;
#pragma unroll
            for (int nt = 0; nt < NT; ++nt)
#pragma unroll
                for (int e = 2 * hh; e < 2 * hh + 2; ++e) {
                    const float x = s[nt * 4 + e];
                    float p = ex2(fmaf(x, sl2, -msc));
                    if (masked && x == -CUDART_INF_F)
                        p = 0.f; /* also when scale = 0 (-inf * 0 is NaN) */
                    s[nt * 4 + e] = p;
                    sum += p;
                }
            l[hh] = l[hh] * alpha + sum;
        }

        /* Dropout: byte k of word q of lane t's Philox output is element k of chunk q of the
         * warp's 16 x 32 tile (core/philox.h), as in the mma.sync kernel. */
        if (DROPOUT) {
            const uint64_t off = a.offset + ((uint64_t)w.unit * a.Hq + w.h) * 32u + lane;
            const uint32_t row_tile = (uint32_t)((it.tile_pos + wrow) / 16);
#pragma unroll
            for (int g = 0; g < BC / 32; ++g) {
                const pattn_philox_out_t r =
                    pattn_philox7(a.seed, off, row_tile, (uint32_t)((kbase + g * 32) / 32));
#pragma unroll
                for (int q = 0; q < 4; ++q)
#pragma unroll
                    for (int e = 0; e < 4; ++e)
                        if (((r.w[q] >> (8 * e)) & 0xffu) > a.keep_threshold)
                            s[(g * 4 + q) * 4 + e] = 0.f;
            }
        }

        /* O += P V: k16 step kk takes keys 16kk.. (2048 bytes of V further on). */
        uint32_t pa[BC / 16][4];
#pragma unroll
        for (int kk = 0; kk < BC / 16; ++kk) {
            pa[kk][0] = Mma<T>::pack(s[(2 * kk) * 4 + 0], s[(2 * kk) * 4 + 1]);
            pa[kk][1] = Mma<T>::pack(s[(2 * kk) * 4 + 2], s[(2 * kk) * 4 + 3]);
            pa[kk][2] = Mma<T>::pack(s[(2 * kk + 1) * 4 + 0], s[(2 * kk + 1) * 4 + 1]);
            pa[kk][3] = Mma<T>::pack(s[(2 * kk + 1) * 4 + 2], s[(2 * kk + 1) * 4 + 3]);
#pragma unroll
            for (int e = 0; e < 4; ++e)
                fence_reg(pa[kk][e]);
        }
#pragma unroll
        for (int i = 0; i < DT * 4; ++i)
            fence_reg(o[i]);
        wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < BC / 16; ++kk)
            Wgmma<T, D>::rs(o, pa[kk], sw128_desc(v_addr + kk * 16 * 128, BC * 128, 1024));
        wgmma_commit();
        wgmma_wait<0>();
#pragma unroll
        for (int i = 0; i < DT * 4; ++i)
            fence_reg(o[i]);
    }

    /* Epilogue: row sums over the quad, then FINAL stores or the ACCUMULATE merge. */
#pragma unroll
    for (int hh = 0; hh < 2; ++hh) {
        float sum = l[hh];
        sum += __shfl_xor_sync(0xffffffffu, sum, 1);
        sum += __shfl_xor_sync(0xffffffffu, sum, 2);
        const RowEnd e = row_end(a, w, it, it.tile_pos + wrow + lane / 4 + hh * 8, m[hh], sum);
        if (e.store)
#pragma unroll
            for (int dt = 0; dt < DT; ++dt)
                row_store2<T>(a, e, dt * 8 + 2 * (lane % 4), o[dt * 4 + 2 * hh],
                              o[dt * 4 + 2 * hh + 1]);
        __syncwarp(); /* the quad has read the old lse (ACCUMULATE) */
        commit_lse(e, lane % 4 == 0);
    }
    cp_async_wait_all(); /* nothing in flight when the CTA exits */
#else
    __trap(); /* built without sm_90a: the registry never picks this kernel (fwd_registry.cu) */
#endif
}

template <typename T, class C, bool DROPOUT>
cudaError_t launch_wgmma_typed(const pattn_cuda_fwd_launch_t *L, int ctas, cudaStream_t stream)
{
    const cudaError_t e = allow_smem<fwd_wgmma_kernel<T, C, DROPOUT>>(C::SMEM);
    if (e != cudaSuccess)
        return e;
    fwd_wgmma_kernel<T, C, DROPOUT><<<ctas, C::THREADS, C::SMEM, stream>>>(*L);
    return cudaGetLastError();
}

template <class C>
cudaError_t launch_wgmma(const pattn_cuda_fwd_launch_t *L, int ctas, cudaStream_t stream)
{
    if (L->a.dtype == PATTN_BF16)
        return L->a.dropout ? launch_wgmma_typed<__nv_bfloat16, C, true>(L, ctas, stream)
                            : launch_wgmma_typed<__nv_bfloat16, C, false>(L, ctas, stream);
    return L->a.dropout ? launch_wgmma_typed<__half, C, true>(L, ctas, stream)
                        : launch_wgmma_typed<__half, C, false>(L, ctas, stream);
}

} // namespace pattn

/* Defines pattn_cuda_fwd_wgmma_d<D>, the launcher of one head dim (fwd_kernels.h). */
#define PATTN_DEFINE_WGMMA_LAUNCHER(D_)                                                            \
    extern "C" cudaError_t pattn_cuda_fwd_wgmma_d##D_(const pattn_cuda_fwd_launch_t *L, int ctas, \
                                                       cudaStream_t stream)                        \
    {                                                                                              \
        return pattn::launch_wgmma<pattn::WgmmaConfig<D_>>(L, ctas, stream);                       \
    }

#endif /* PATTN_CUDA_FWD_WGMMA_CUH */
