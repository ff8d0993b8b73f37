/*
 * bwd_dkdv_simt.cuh: the general backward's dK/dV pass on the CUDA cores in fp32 (every dtype,
 * every head dim), key-major: a CTA of one warp runs a tile of 32 keys of one KV head, lane j
 * owning key j, whose dK and dV rows accumulate in shared memory. It walks the query positions
 * of its item's runs, one query row at a time, for each of the r query heads of the KV head:
 *   p = exp2(s scale log2(e) - lse2), dp = dO . v, with dropout pz = p Z s and dp Z s,
 *   ds = p (dp - D), dV_j += pz dO, dK_j += ds Q (scale last).
 * Slow (one row at a time) and simple: the fallback for fp32 and unaligned arrays.
 */
#ifndef PATTN_CUDA_BWD_DKDV_SIMT_CUH
#define PATTN_CUDA_BWD_DKDV_SIMT_CUH

#include "bwd_epilogue.cuh"
#include "config.h"
#include "launch.cuh"
#include "philox.h"
#include "simt_common.cuh"

namespace pattn {

template <typename T, bool DROPOUT>
__global__ void __launch_bounds__(SimtDkdv::THREADS)
    bwd_dkdv_simt_kernel(const __grid_constant__ pattn_cuda_bwd_args_t a)
{
    using C = SimtDkdv;
    static_assert(C::THREADS == 32 && C::ROWS == 32, "one warp, one key per lane");
    const Cta w = cta_of(a.items, a.num_items, a.Hq / a.r);
    const pattn_item_t &it = *w.item;
    const int lane = threadIdx.x, kv_head = w.h;
    const int dp = (a.D + 31) / 32 * 32, ld = dp + 1;
    extern __shared__ float smem[];
    float *sK = smem, *sV = sK + C::ROWS * ld, *sdK = sV + C::ROWS * ld, *sdV = sdK + C::ROWS * ld;
    float *sq = sdV + C::ROWS * ld, *sdo = sq + dp;

    load_rows_f32<C::THREADS>(sK, ld, C::ROWS, dp,
                              head_rows<const T>(a.kv.k, a.kv.stride, a.kv.sample_rows, w.b, kv_head, a.D),
                              a.kv.stride, a.D, it.tile_pos, tile_span(it));
    load_rows_f32<C::THREADS>(sV, ld, C::ROWS, dp,
                              head_rows<const T>(a.kv.v, a.kv.stride, a.kv.sample_rows, w.b, kv_head, a.D),
                              a.kv.stride, a.D, it.tile_pos, tile_span(it));
    for (int i = lane; i < C::ROWS * ld; i += 32)
        sdK[i] = sdV[i] = 0.f;
    __syncwarp();

    const int kpos = it.tile_pos + lane;
    const float *kj = sK + lane * ld, *vj = sV + lane * ld;
    float *dkj = sdK + lane * ld, *dvj = sdV + lane * ld;
    for (int hq = 0; hq < a.r; ++hq) {
        const int h = kv_head * a.r + hq;
        const T *qg = head_rows<const T>(a.q, a.q_stride, a.sample_rows, w.b, h, a.D);
        const T *og = head_rows<const T>(a.dout, a.dout_stride, a.sample_rows, w.b, h, a.D);
        for (int ri = 0; ri < it.num_runs; ++ri) {
            const pattn_item_run_t &run = it.runs[ri];
            int64_t lo, hi;
            pattn_item_span(&it, &run, PATTN_KEY_MAJOR, 0, &lo, &hi);
            for (int qpos = (int)lo; qpos < (int)hi; ++qpos) {
                const int t = run.row + (qpos - run.pos);
                for (int d = lane; d < dp; d += 32) {
                    sq[d] = d < a.D ? to_float(qg[(int64_t)t * a.q_stride + d]) : 0.f;
                    sdo[d] = d < a.D ? to_float(og[(int64_t)t * a.dout_stride + d]) : 0.f;
                }
                __syncwarp();
                const int64_t at =
                    (int64_t)w.b * a.lse_sample_stride + (int64_t)h * a.lse_head_stride + t;
                const float lse2 = lse_log2(a.lse[at]), dsum = a.dsum[at];
                float s = 0.f, dpv = 0.f;
                for (int d = 0; d < a.D; ++d) {
                    s = fmaf(sq[d], kj[d], s);
                    dpv = fmaf(sdo[d], vj[d], dpv);
                }
                const bool vis = simt_visible<PATTN_KEY_MAJOR>(run, kpos, qpos);
                const float p = vis ? exp2f(s * a.scale_log2 - lse2) : 0.f;
                float pz = p;
                if (DROPOUT) {
                    const bool kept = pattn_dropout_keep(a.drop.seed, a.drop.offset, w.unit, h, a.Hq,
                                                         qpos, kpos, (uint8_t)a.drop.keep_threshold);
                    pz = kept ? p * a.drop.keep_scale : 0.f;
                    dpv = kept ? dpv * a.drop.keep_scale : 0.f;
                }
                const float ds = p * (dpv - dsum);
                for (int d = 0; d < a.D; ++d) {
                    dvj[d] = fmaf(pz, sdo[d], dvj[d]);
                    dkj[d] = fmaf(ds, sq[d], dkj[d]);
                }
                __syncwarp(); /* every lane is done with this row's q and dO */
            }
        }
    }

    /* Row by row, lanes over the columns (coalesced stores). */
    for (int i = 0; i < C::ROWS; ++i) {
        const int t = span_row(tile_span(it), it.tile_pos + i);
        if (t < 0)
            continue;
        const int64_t off =
            ((int64_t)w.b * a.kv.sample_rows + t) * a.dkv_stride + (int64_t)kv_head * a.D;
        for (int d = lane; d < a.D; d += 32) {
            grad_store1<T>(a.dk, off + d, a.accumulate, a.scale * sdK[i * ld + d]);
            grad_store1<T>(a.dv, off + d, a.accumulate, sdV[i * ld + d]);
        }
    }
}

struct BwdDkdvSimt {
    static constexpr bool FP32 = true;
    /* K, V, dK, dV (ROWS x DP+1) and one row of Q and dO (DP). */
    static size_t smem_bytes(int dp)
    {
        return sizeof(float) * (4 * (size_t)SimtDkdv::ROWS * (dp + 1) + 2 * (size_t)dp);
    }
    template <typename T, bool DROPOUT>
    static cudaError_t run(const pattn_cuda_bwd_args_t *a, cudaStream_t stream)
    {
        const cudaError_t e = allow_smem<bwd_dkdv_simt_kernel<T, DROPOUT>>(smem_bytes(256));
        if (e != cudaSuccess)
            return e;
        const int ctas = a->num_items * (a->Hq / a->r) * a->B;
        bwd_dkdv_simt_kernel<T, DROPOUT>
            <<<ctas, SimtDkdv::THREADS, smem_bytes((a->D + 31) / 32 * 32), stream>>>(*a);
        return cudaGetLastError();
    }
};

} // namespace pattn

/* Defines pattn_cuda_bwd_dkdv_simt_d0 (registry.h): every head dim. */
#define PATTN_DEFINE_BWD_DKDV_SIMT(D_)                                                             \
    PATTN_DEFINE_LAUNCHER(bwd_dkdv_simt, D_,                                                       \
                          pattn::dispatch_bwd<pattn::BwdDkdvSimt>)

#endif /* PATTN_CUDA_BWD_DKDV_SIMT_CUH */
