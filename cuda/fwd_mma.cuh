/*
 * fwd_mma.cuh: the tensor-core forward kernel (FlashAttention-2's algorithm on mma.sync
 * m16n8k16, fp16/bf16 in, fp32 accumulate), templated on the dtype and a tile configuration
 * (fwd_mma_config.h). One CTA runs one work item (fwd_args.h) for one sample and query head:
 *
 *   Q tile -> shared memory once; for each key tile (K and V double-buffered, cp.async: the
 *   next tile's loads fly while this one computes, one barrier per tile):
 *     S = Q K^T (ldmatrix + mma), mask, online softmax in exp2 with scale * log2(e) folded,
 *     dropout on P in registers (FlashAttention-2's Philox: in the m16n8 accumulator layout
 *     thread t holds exactly the elements of Philox lane t of each 16 x 32 tile, so one
 *     pattn_philox7 call per tile gives all its bytes), O += P V with P as the A operand.
 *
 * Each warp owns MT 16-row tiles and all D columns of them, so a row's statistics live in the
 * four threads of a quad. Head dims below D are zero-padded in shared memory.
 */
#ifndef PATTN_CUDA_FWD_MMA_CUH
#define PATTN_CUDA_FWD_MMA_CUH

#include <cuda_runtime.h>

#include "fwd_common.cuh"
#include "fwd_mma_config.h"
#include "mma_ops.cuh"
#include "philox.h"
#include "smem_limit.cuh"

namespace pattn {

/* Loads ROWS rows of D columns at global positions base.. of span s into shared memory (pitch
 * D + 8); rows the span does not hold, and columns >= dcols, become zeros. TPR threads share a
 * row, each copying 16 bytes of every 8 * TPR columns, so a thread computes one address per row. */
template <typename T, int ROWS, int D, int THREADS>
__device__ __forceinline__ void load_tile(T *smem, const T *g, int64_t stride, int dcols,
                                          int base, const Span &s)
{
    constexpr int TPR = D % 64 == 0 ? 8 : 4;
    constexpr int RSTEP = THREADS / TPR;
    static_assert(ROWS % RSTEP == 0, "tile rows must be a multiple of the rows per pass");
    const int ch0 = (int)threadIdx.x % TPR, r0 = (int)threadIdx.x / TPR;
#pragma unroll
    for (int i = 0; i < ROWS / RSTEP; ++i) {
        const int row = r0 + i * RSTEP;
        const int src_row = span_row(s, base + row);
        const T *src = g + (int64_t)max(src_row, 0) * stride;
#pragma unroll
        for (int cj = 0; cj < D / (8 * TPR); ++cj) {
            const int col = (ch0 + cj * TPR) * 8;
            cp_async16(smem + row * (D + 8) + col, src + col, src_row >= 0 && col < dcols ? 16 : 0);
        }
    }
}

template <typename T, class C, bool DROPOUT>
__global__ void __launch_bounds__(C::THREADS, C::MIN_CTAS)
    fwd_mma_kernel(const __grid_constant__ pattn_cuda_fwd_launch_t L)
{
    constexpr int D = C::D, MT = C::MT, BC = C::BC, BR = C::BR, S = C::STRIDE;
    constexpr int NT = BC / 8; /* 8-key column tiles of S */
    constexpr int DT = D / 8;  /* 8-column tiles of O */
    extern __shared__ __align__(16) unsigned char smem_raw[];
    T *const sQ = reinterpret_cast<T *>(smem_raw);
    T *const sK0 = sQ + BR * S; /* K and V of tile j live in buffer j % 2 */
    T *const sV0 = sK0 + 2 * BC * S;

    const pattn_cuda_fwd_args_t &a = L.a;
    const CtaWork w = cta_work(L);
    const pattn_cuda_item_t &it = *w.item;
    const int lane = threadIdx.x % 32;
    const int wrow = (threadIdx.x / 32) * 16 * MT; /* the warp's first row in the tile */

    const T *qg = static_cast<const T *>(a.q) + (int64_t)w.b * a.q_sample_rows * a.q_stride +
                  (int64_t)w.h * a.D;
    const int64_t kv_off =
        (int64_t)w.b * a.kv_sample_rows * a.kv_stride + (int64_t)(w.h / a.r) * a.D;
    const T *kg = static_cast<const T *>(a.k) + kv_off;
    const T *vg = static_cast<const T *>(a.v) + kv_off;

    float o[MT][DT][4];
    float m[MT][2], l[MT][2];
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
        for (int dt = 0; dt < DT; ++dt)
#pragma unroll
            for (int e = 0; e < 4; ++e)
                o[mt][dt][e] = 0.f;
#pragma unroll
        for (int hh = 0; hh < 2; ++hh) {
            m[mt][hh] = -CUDART_INF_F;
            l[mt][hh] = 0.f;
        }
    }

    const KeyTiles kt = key_tiles(it, BC);
    const float sl2 = a.scale_log2;
    /* ldmatrix row/column of this lane: A operands and transposed V (x4: rows 0-15 x cols 0-15
     * in the order a0..a3), K as B operands (n 0-7 k 0-15, then n 8-15). */
    const int a_row = (lane % 8) + ((lane / 8) % 2) * 8, a_col = (lane / 16) * 8;
    const int b_row = (lane % 8) + (lane / 16) * 8, b_col = ((lane / 8) % 2) * 8;

    /* Loads the K and V of tile j into buffer j % 2. */
    auto load_kv = [&](int j) {
        int run_i, kbase;
        key_tile_at(kt, j, BC, run_i, kbase);
        const Span span = key_span(it.runs[run_i]);
        load_tile<T, BC, D, C::THREADS>(sK0 + (j % 2) * BC * S, kg, a.kv_stride, a.D, kbase, span);
        load_tile<T, BC, D, C::THREADS>(sV0 + (j % 2) * BC * S, vg, a.kv_stride, a.D, kbase, span);
        cp_async_commit();
    };
    if (kt.total > 0) {
        load_tile<T, BR, D, C::THREADS>(sQ, qg, a.q_stride, a.D, it.tile_pos, query_span(it));
        load_kv(0);
    }

    for (int j = 0; j < kt.total; ++j) {
        int run_i, kbase;
        key_tile_at(kt, j, BC, run_i, kbase);
        const pattn_cuda_run_t &run = it.runs[run_i];
        const T *const sK = sK0 + (j % 2) * BC * S;
        const T *const sV = sV0 + (j % 2) * BC * S;
        cp_async_wait_all();
        __syncthreads(); /* tile j (and Q) landed; every warp is done with tile j - 1's buffer */
        if (j + 1 < kt.total)
            load_kv(j + 1); /* lands while tile j computes */

        /* S = Q K^T */
        float s[MT][NT][4];
#pragma unroll
        for (int mt = 0; mt < MT; ++mt)
#pragma unroll
            for (int nt = 0; nt < NT; ++nt)
#pragma unroll
                for (int e = 0; e < 4; ++e)
                    s[mt][nt][e] = 0.f;
#pragma unroll
        for (int ks = 0; ks < D / 16; ++ks) {
            uint32_t af[MT][4];
#pragma unroll
            for (int mt = 0; mt < MT; ++mt)
                ldsm_x4(af[mt], sQ + (wrow + mt * 16 + a_row) * S + ks * 16 + a_col);
#pragma unroll
            for (int np = 0; np < NT / 2; ++np) {
                uint32_t bf[4];
                ldsm_x4(bf, sK + (np * 16 + b_row) * S + ks * 16 + b_col);
#pragma unroll
                for (int mt = 0; mt < MT; ++mt) {
                    Mma<T>::run(s[mt][2 * np], af[mt], bf[0], bf[1]);
                    Mma<T>::run(s[mt][2 * np + 1], af[mt], bf[2], bf[3]);
                }
            }
        }

        /* Mask. Element e of column tile nt is row lane/4 + 8 (e/2), key kbase + c0 + nt*8 + e%2;
         * each row sees the keys in [lo, hi) relative to c0. */
        const bool masked = tile_needs_mask(run, kbase, BC, it.q_pos);
        if (masked) {
            const int c0 = kbase + 2 * (lane % 4);
#pragma unroll
            for (int mt = 0; mt < MT; ++mt)
#pragma unroll
                for (int hh = 0; hh < 2; ++hh) {
                    const int qpos = it.tile_pos + wrow + mt * 16 + lane / 4 + hh * 8;
                    const int lo = run.pos - c0;
                    int hi = run.pos + run.len - c0;
                    if (run.causal)
                        hi = min(hi, qpos + run.shift + 1 - c0);
#pragma unroll
                    for (int nt = 0; nt < NT; ++nt)
#pragma unroll
                        for (int e = 0; e < 2; ++e)
                            if (nt * 8 + e < lo || nt * 8 + e >= hi)
                                s[mt][nt][2 * hh + e] = -CUDART_INF_F;
                }
        }

        /* Online softmax: new row max, rescale O and l, P = exp2(S scale log2e - max). */
#pragma unroll
        for (int mt = 0; mt < MT; ++mt)
#pragma unroll
            for (int hh = 0; hh < 2; ++hh) {
                float mx = m[mt][hh];
#pragma unroll
                for (int nt = 0; nt < NT; ++nt)
                    mx = fmaxf(mx, fmaxf(s[mt][nt][2 * hh], s[mt][nt][2 * hh + 1]));
                mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
                mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
                const float msc = mx == -CUDART_INF_F ? 0.f : mx * sl2;
                const float alpha = m[mt][hh] == -CUDART_INF_F ? 0.f : ex2(m[mt][hh] * sl2 - msc);
                m[mt][hh] = mx;
#pragma unroll
                for (int dt = 0; dt < DT; ++dt) {
                    o[mt][dt][2 * hh] *= alpha;
                    o[mt][dt][2 * hh + 1] *= alpha;
                }
                float sum = 0.f;
#pragma unroll
                for (int nt = 0; nt < NT; ++nt)
#pragma unroll
                    for (int e = 2 * hh; e < 2 * hh + 2; ++e) {
                        const float x = s[mt][nt][e];
                        float p = ex2(fmaf(x, sl2, -msc));
                        if (masked && x == -CUDART_INF_F)
                            p = 0.f; /* also when scale = 0 (-inf * 0 is NaN) */
                        s[mt][nt][e] = p;
                        sum += p;
                    }
                l[mt][hh] = l[mt][hh] * alpha + sum;
            }

        /* Dropout: byte k of word q of lane t's Philox output is element k of column tile q of
         * the 16 x 32 tile (core/philox.h, pattn_dropout_lane/byte). */
        if (DROPOUT) {
            const uint64_t off = a.offset + ((uint64_t)w.unit * a.Hq + w.h) * 32u + lane;
#pragma unroll
            for (int mt = 0; mt < MT; ++mt) {
                const uint32_t row_tile = (uint32_t)((it.tile_pos + wrow + mt * 16) / 16);
#pragma unroll
                for (int g = 0; g < BC / 32; ++g) {
                    const pattn_philox_out_t r =
                        pattn_philox7(a.seed, off, row_tile, (uint32_t)((kbase + g * 32) / 32));
#pragma unroll
                    for (int q = 0; q < 4; ++q)
#pragma unroll
                        for (int e = 0; e < 4; ++e)
                            if (((r.w[q] >> (8 * e)) & 0xffu) > a.keep_threshold)
                                s[mt][g * 4 + q][e] = 0.f;
                }
            }
        }

        /* O += P V: P's accumulator layout is the A operand layout of the next mma. */
#pragma unroll
        for (int kk = 0; kk < BC / 16; ++kk) {
            uint32_t pa[MT][4];
#pragma unroll
            for (int mt = 0; mt < MT; ++mt) {
                pa[mt][0] = Mma<T>::pack(s[mt][2 * kk][0], s[mt][2 * kk][1]);
                pa[mt][1] = Mma<T>::pack(s[mt][2 * kk][2], s[mt][2 * kk][3]);
                pa[mt][2] = Mma<T>::pack(s[mt][2 * kk + 1][0], s[mt][2 * kk + 1][1]);
                pa[mt][3] = Mma<T>::pack(s[mt][2 * kk + 1][2], s[mt][2 * kk + 1][3]);
            }
#pragma unroll
            for (int dp = 0; dp < DT / 2; ++dp) {
                uint32_t vf[4];
                ldsm_x4_trans(vf, sV + (kk * 16 + a_row) * S + dp * 16 + a_col);
#pragma unroll
                for (int mt = 0; mt < MT; ++mt) {
                    Mma<T>::run(o[mt][2 * dp], pa[mt], vf[0], vf[1]);
                    Mma<T>::run(o[mt][2 * dp + 1], pa[mt], vf[2], vf[3]);
                }
            }
        }
    }

    /* Epilogue: row sums over the quad, then FINAL stores or the ACCUMULATE merge. */
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
        for (int hh = 0; hh < 2; ++hh) {
            float sum = l[mt][hh];
            sum += __shfl_xor_sync(0xffffffffu, sum, 1);
            sum += __shfl_xor_sync(0xffffffffu, sum, 2);
            const RowEnd e =
                row_end(a, w, it, it.tile_pos + wrow + mt * 16 + lane / 4 + hh * 8, m[mt][hh], sum);
            if (e.store)
#pragma unroll
                for (int dt = 0; dt < DT; ++dt) {
                    const int d = dt * 8 + 2 * (lane % 4);
                    if (d < a.D)
                        row_store2<T>(a, e, d, o[mt][dt][2 * hh], o[mt][dt][2 * hh + 1]);
                }
            __syncwarp(); /* the quad has read the old lse (ACCUMULATE) */
            commit_lse(e, lane % 4 == 0);
        }
    cp_async_wait_all(); /* nothing in flight when the CTA exits */
}

template <typename T, class C, bool DROPOUT>
cudaError_t launch_mma_typed(const pattn_cuda_fwd_launch_t *L, int ctas, cudaStream_t stream)
{
    const cudaError_t e = allow_smem<fwd_mma_kernel<T, C, DROPOUT>>(C::SMEM);
    if (e != cudaSuccess)
        return e;
    fwd_mma_kernel<T, C, DROPOUT><<<ctas, C::THREADS, C::SMEM, stream>>>(*L);
    return cudaGetLastError();
}

/* Dropout is a separate instantiation: its Philox registers would push the others out. */
template <typename T, class C>
cudaError_t launch_mma_dropout(const pattn_cuda_fwd_launch_t *L, int ctas, cudaStream_t stream)
{
    return L->a.dropout ? launch_mma_typed<T, C, true>(L, ctas, stream)
                        : launch_mma_typed<T, C, false>(L, ctas, stream);
}

template <class C>
cudaError_t launch_mma(const pattn_cuda_fwd_launch_t *L, int ctas, cudaStream_t stream)
{
    return L->a.dtype == PATTN_BF16 ? launch_mma_dropout<__nv_bfloat16, C>(L, ctas, stream)
                                    : launch_mma_dropout<__half, C>(L, ctas, stream);
}

} // namespace pattn

/* Defines pattn_cuda_fwd_mma_d<D>, the launcher of one compiled head dim (fwd_kernels.h). */
#define PATTN_DEFINE_MMA_LAUNCHER(D_)                                                              \
    extern "C" cudaError_t pattn_cuda_fwd_mma_d##D_(const pattn_cuda_fwd_launch_t *L, int ctas,  \
                                                     cudaStream_t stream)                          \
    {                                                                                              \
        return pattn::launch_mma<pattn::MmaConfigFor<D_>>(L, ctas, stream);                        \
    }

#endif /* PATTN_CUDA_FWD_MMA_CUH */
