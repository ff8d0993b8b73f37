/*
 * fwd_simt.cuh: the general forward kernel, on the CUDA cores in fp32: every dtype (fp32 is
 * its main use), every head dim up to 256, the same work items, masks (core/mask.h), dropout
 * and output modes as the tensor-core kernels. A CTA of 4 warps runs 16 query rows (4 per warp)
 * against key tiles of 32 keys in shared memory: lane j computes the scores of key j, the warp
 * does the online softmax with shuffles, and lane j accumulates output columns j, j + 32, ...
 * Dropout asks pattn_dropout_keep per element (simple, 16x more Philox work than needed).
 */
#ifndef PATTN_CUDA_FWD_SIMT_CUH
#define PATTN_CUDA_FWD_SIMT_CUH

#include "config.h"
#include "fwd_epilogue.cuh"
#include "launch.cuh"
#include "philox.h"
#include "simt_common.cuh"

namespace pattn {

template <typename T, bool DROPOUT, int MODE>
__global__ void __launch_bounds__(SimtFwd::THREADS)
    fwd_simt_kernel(const __grid_constant__ pattn_cuda_fwd_args_t a)
{
    using C = SimtFwd;
    const Cta w = cta_of(a.items, a.num_items, a.Hq);
    const pattn_item_t &it = *w.item;
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    const int dp = (a.D + 31) / 32 * 32, nt = dp / 32;
    extern __shared__ float smem[];
    float *sQ = smem, *sK = sQ + C::ROWS * dp, *sV = sK + C::BC * (dp + 1);

    const T *qg = head_rows<const T>(a.q, a.q_stride, a.sample_rows, w.b, w.h, a.D);
    const T *kg = head_rows<const T>(a.kv.k, a.kv.stride, a.kv.sample_rows, w.b, w.h / a.r, a.D);
    const T *vg = head_rows<const T>(a.kv.v, a.kv.stride, a.kv.sample_rows, w.b, w.h / a.r, a.D);
    const uint8_t threshold = (uint8_t)a.drop.keep_threshold;

    float o[C::RPW][C::MAXT], m[C::RPW], l[C::RPW];
#pragma unroll
    for (int r = 0; r < C::RPW; ++r) {
        m[r] = -CUDART_INF_F;
        l[r] = 0.f;
#pragma unroll
        for (int t = 0; t < C::MAXT; ++t)
            o[r][t] = 0.f;
    }

    load_rows_f32<C::THREADS>(sQ, dp, C::ROWS, dp, qg, a.q_stride, a.D, it.tile_pos, tile_span(it));
    const SubTiles kt = sub_tiles<PATTN_QUERY_MAJOR>(it, C::BC);
    for (int j = 0; j < kt.total; ++j) {
        int run_i, kbase;
        sub_tile_at(kt, j, C::BC, run_i, kbase);
        const pattn_item_run_t &run = it.runs[run_i];
        __syncthreads(); /* every warp is done with the previous tile */
        load_rows_f32<C::THREADS>(sK, dp + 1, C::BC, dp, kg, a.kv.stride, a.D, kbase, run_span(run));
        load_rows_f32<C::THREADS>(sV, dp, C::BC, dp, vg, a.kv.stride, a.D, kbase, run_span(run));
        __syncthreads();
        const int kpos = kbase + lane;
#pragma unroll
        for (int r = 0; r < C::RPW; ++r) {
            const int row = warp * C::RPW + r, qpos = it.tile_pos + row;
            float s = 0.f;
            for (int d = 0; d < a.D; ++d)
                s = fmaf(sQ[row * dp + d], sK[lane * (dp + 1) + d], s);
            const bool vis = simt_visible<PATTN_QUERY_MAJOR>(run, qpos, kpos);
            const float mx = fmaxf(m[r], warp_max(vis ? s : -CUDART_INF_F));
            const float msc = mx == -CUDART_INF_F ? 0.f : mx * a.scale_log2;
            const float alpha = m[r] == -CUDART_INF_F ? 0.f : exp2f(m[r] * a.scale_log2 - msc);
            float p = vis ? exp2f(s * a.scale_log2 - msc) : 0.f;
            m[r] = mx;
            l[r] = l[r] * alpha + p;
            if (DROPOUT && vis &&
                !pattn_dropout_keep(a.drop.seed, a.drop.offset, w.unit, w.h, a.Hq, qpos, kpos,
                                    threshold))
                p = 0.f;
#pragma unroll
            for (int t = 0; t < C::MAXT; ++t)
                o[r][t] *= alpha;
            for (int jj = 0; jj < C::BC; ++jj) {
                const float pj = __shfl_sync(0xffffffffu, p, jj);
#pragma unroll
                for (int t = 0; t < C::MAXT; ++t)
                    if (t < nt)
                        o[r][t] = fmaf(pj, sV[jj * dp + lane + 32 * t], o[r][t]);
            }
        }
    }

#pragma unroll
    for (int r = 0; r < C::RPW; ++r) {
        const float sum = warp_sum(l[r]);
        const RowEnd<MODE> e =
            row_end<MODE>(a, w, tile_span(it), it.tile_pos + warp * C::RPW + r, m[r], sum);
        if (e.store)
#pragma unroll
            for (int c = 0; c < C::MAXT; ++c)
                if (lane + 32 * c < a.D)
                    row_store1<T, MODE>(a, e, lane + 32 * c, o[r][c]);
        __syncwarp(); /* the warp has read the old lse (ACCUMULATE) */
        commit_lse<MODE>(e, lane == 0);
    }
}

struct FwdSimt {
    static constexpr bool FP32 = true;
    /* Shared memory: Q (ROWS x DP), K (BC x DP+1, padded against bank conflicts), V (BC x DP). */
    static size_t smem_bytes(int dp)
    {
        return sizeof(float) * ((size_t)SimtFwd::ROWS * dp + (size_t)SimtFwd::BC * (dp + 1) +
                                (size_t)SimtFwd::BC * dp);
    }
    template <typename T, bool DROPOUT, int MODE>
    static cudaError_t run(const pattn_cuda_fwd_args_t *a, int ctas, cudaStream_t stream)
    {
        const cudaError_t e = allow_smem<fwd_simt_kernel<T, DROPOUT, MODE>>(smem_bytes(256));
        if (e != cudaSuccess)
            return e;
        fwd_simt_kernel<T, DROPOUT, MODE>
            <<<ctas, SimtFwd::THREADS, smem_bytes((a->D + 31) / 32 * 32), stream>>>(*a);
        return cudaGetLastError();
    }
};

} // namespace pattn

/* Defines pattn_cuda_fwd_simt_d0 (registry.h): every head dim. */
#define PATTN_DEFINE_FWD_SIMT(D_)                                                                  \
    PATTN_DEFINE_LAUNCHER(fwd_simt, D_,                                                            \
                          pattn::dispatch_fwd<pattn::FwdSimt>)

#endif /* PATTN_CUDA_FWD_SIMT_CUH */
