/*
 * bwd_dq_simt.cuh: the general backward's dQ pass on the CUDA cores in fp32 (every dtype, every
 * head dim), query-major like the general forward (fwd_simt.cuh): a CTA of 4 warps runs 16 query
 * rows (4 per warp) against key tiles of 32 keys in shared memory; lane j takes key j:
 *   p = exp2(s scale log2(e) - lse2), dp = dO . v (times Z s with dropout), ds = p (dp - D),
 * and lane j accumulates dQ columns j, j + 32, ... as sum over keys of ds K.
 */
#ifndef PATTN_CUDA_BWD_DQ_SIMT_CUH
#define PATTN_CUDA_BWD_DQ_SIMT_CUH

#include "bwd_epilogue.cuh"
#include "config.h"
#include "launch.cuh"
#include "philox.h"
#include "simt_common.cuh"

namespace pattn {

template <typename T, bool DROPOUT>
__global__ void __launch_bounds__(SimtDq::THREADS)
    bwd_dq_simt_kernel(const __grid_constant__ pattn_cuda_bwd_args_t a)
{
    using C = SimtDq;
    const Cta w = cta_of(a.items, a.num_items, a.Hq);
    const pattn_item_t &it = *w.item;
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    const int dp = (a.D + 31) / 32 * 32, nt = dp / 32;
    extern __shared__ float smem[];
    float *sQ = smem, *sO = sQ + C::ROWS * dp, *sK = sO + C::ROWS * dp;
    float *sV = sK + C::BC * (dp + 1);

    const T *kg = head_rows<const T>(a.kv.k, a.kv.stride, a.kv.sample_rows, w.b, w.h / a.r, a.D);
    const T *vg = head_rows<const T>(a.kv.v, a.kv.stride, a.kv.sample_rows, w.b, w.h / a.r, a.D);
    load_rows_f32<C::THREADS>(sQ, dp, C::ROWS, dp,
                              head_rows<const T>(a.q, a.q_stride, a.sample_rows, w.b, w.h, a.D),
                              a.q_stride, a.D, it.tile_pos, tile_span(it));
    load_rows_f32<C::THREADS>(sO, dp, C::ROWS, dp,
                              head_rows<const T>(a.dout, a.dout_stride, a.sample_rows, w.b, w.h, a.D),
                              a.dout_stride, a.D, it.tile_pos, tile_span(it));
    float dq[C::RPW][C::MAXT], lse2[C::RPW], dsum[C::RPW];
#pragma unroll
    for (int r = 0; r < C::RPW; ++r) {
        const int t = span_row(tile_span(it), it.tile_pos + warp * C::RPW + r);
        const int64_t at = (int64_t)w.b * a.lse_sample_stride + (int64_t)w.h * a.lse_head_stride + t;
        lse2[r] = t >= 0 ? lse_log2(a.lse[at]) : CUDART_INF_F;
        dsum[r] = t >= 0 ? a.dsum[at] : 0.f;
#pragma unroll
        for (int c = 0; c < C::MAXT; ++c)
            dq[r][c] = 0.f;
    }

    const SubTiles kt = sub_tiles<PATTN_QUERY_MAJOR>(it, C::BC);
    for (int j = 0; j < kt.total; ++j) {
        int run_i, kbase;
        sub_tile_at(kt, j, C::BC, run_i, kbase);
        const pattn_item_run_t &run = it.runs[run_i];
        __syncthreads(); /* every warp is done with the previous tile */
        load_rows_f32<C::THREADS>(sK, dp + 1, C::BC, dp, kg, a.kv.stride, a.D, kbase, run_span(run));
        load_rows_f32<C::THREADS>(sV, dp + 1, C::BC, dp, vg, a.kv.stride, a.D, kbase, run_span(run));
        __syncthreads();
        const int kpos = kbase + lane;
#pragma unroll
        for (int r = 0; r < C::RPW; ++r) {
            const int row = warp * C::RPW + r, qpos = it.tile_pos + row;
            float s = 0.f, dpv = 0.f;
            for (int d = 0; d < a.D; ++d) {
                s = fmaf(sQ[row * dp + d], sK[lane * (dp + 1) + d], s);
                dpv = fmaf(sO[row * dp + d], sV[lane * (dp + 1) + d], dpv);
            }
            const bool vis = simt_visible<PATTN_QUERY_MAJOR>(run, qpos, kpos);
            const float p = vis ? exp2f(s * a.scale_log2 - lse2[r]) : 0.f;
            if (DROPOUT)
                dpv = pattn_dropout_keep(a.drop.seed, a.drop.offset, w.unit, w.h, a.Hq, qpos, kpos,
                                         (uint8_t)a.drop.keep_threshold)
                          ? dpv * a.drop.keep_scale
                          : 0.f;
            const float ds = p * (dpv - dsum[r]);
            for (int jj = 0; jj < C::BC; ++jj) {
                const float dsj = __shfl_sync(0xffffffffu, ds, jj);
#pragma unroll
                for (int c = 0; c < C::MAXT; ++c)
                    if (c < nt)
                        dq[r][c] = fmaf(dsj, sK[jj * (dp + 1) + lane + 32 * c], dq[r][c]);
            }
        }
    }

#pragma unroll
    for (int r = 0; r < C::RPW; ++r) {
        const int t = span_row(tile_span(it), it.tile_pos + warp * C::RPW + r);
        if (t < 0)
            continue;
        const int64_t off = ((int64_t)w.b * a.sample_rows + t) * a.dq_stride + (int64_t)w.h * a.D;
#pragma unroll
        for (int c = 0; c < C::MAXT; ++c)
            if (lane + 32 * c < a.D)
                grad_store1<T>(a.dq, off + lane + 32 * c, a.accumulate, a.scale * dq[r][c]);
    }
}

struct BwdDqSimt {
    static constexpr bool FP32 = true;
    /* Q, dO (ROWS x DP), K and V (BC x DP+1, padded against bank conflicts). */
    static size_t smem_bytes(int dp)
    {
        return sizeof(float) * (2 * (size_t)SimtDq::ROWS * dp + 2 * (size_t)SimtDq::BC * (dp + 1));
    }
    template <typename T, bool DROPOUT>
    static cudaError_t run(const pattn_cuda_bwd_args_t *a, cudaStream_t stream)
    {
        const cudaError_t e = allow_smem<bwd_dq_simt_kernel<T, DROPOUT>>(smem_bytes(256));
        if (e != cudaSuccess)
            return e;
        const int ctas = a->num_items * a->Hq * a->B;
        bwd_dq_simt_kernel<T, DROPOUT>
            <<<ctas, SimtDq::THREADS, smem_bytes((a->D + 31) / 32 * 32), stream>>>(*a);
        return cudaGetLastError();
    }
};

} // namespace pattn

/* Defines pattn_cuda_bwd_dq_simt_d0 (registry.h): every head dim. */
#define PATTN_DEFINE_BWD_DQ_SIMT(D_)                                                               \
    PATTN_DEFINE_LAUNCHER(bwd_dq_simt, D_,                                                         \
                          pattn::dispatch_bwd<pattn::BwdDqSimt>)

#endif /* PATTN_CUDA_BWD_DQ_SIMT_CUH */
