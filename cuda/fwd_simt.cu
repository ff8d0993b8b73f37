/*
 * fwd_simt.cu: the general forward kernel, on the CUDA cores in fp32: every dtype (fp32 is
 * its main use), every head dim up to 256, the same work items, masks, dropout and output
 * modes as the tensor-core kernel. A CTA of 4 warps runs 16 query rows (4 per warp) against
 * key tiles of 32 keys in shared memory: lane j computes the scores of key j, the warp does the
 * online softmax with shuffles, and lane j accumulates output columns j, j + 32, ...
 * Dropout asks pattn_dropout_keep per element (simple, 16x more Philox work than needed).
 */
#include "fwd_common.cuh"
#include "fwd_kernels.h"
#include "philox.h"
#include "smem_limit.cuh"

namespace pattn {

constexpr int SIMT_THREADS = 128;
constexpr int SIMT_BR = PATTN_CUDA_SIMT_ROWS; /* query rows per CTA */
constexpr int SIMT_BC = 32;                   /* keys per tile: one per lane */
constexpr int SIMT_RPW = SIMT_BR / 4;         /* rows per warp */
constexpr int SIMT_MAXT = 8;                  /* output columns per lane: 256 / 32 */

static_assert(SIMT_BR % 16 == 0, "items are built for tiles of a multiple of 16 rows");

/* Shared memory: Q (BR x DP), K (BC x DP+1, padded against bank conflicts), V (BC x DP). */
static size_t simt_smem_bytes(int dp)
{
    return sizeof(float) * ((size_t)SIMT_BR * dp + (size_t)SIMT_BC * (dp + 1) + (size_t)SIMT_BC * dp);
}

/* Rows base.. of span s, columns < dcols, as fp32 into smem (pitch ld); zeros elsewhere. */
template <typename T>
__device__ void load_rows_f32(float *smem, int ld, int rows, int dp, const T *g, int64_t stride,
                              int dcols, int base, const Span &s)
{
    for (int c = threadIdx.x; c < rows * dp; c += SIMT_THREADS) {
        const int row = c / dp, d = c % dp;
        const int src = span_row(s, base + row);
        smem[row * ld + d] = src >= 0 && d < dcols ? to_float(g[(int64_t)src * stride + d]) : 0.f;
    }
}

__device__ __forceinline__ float warp_max(float x)
{
#pragma unroll
    for (int o = 16; o > 0; o /= 2)
        x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, o));
    return x;
}

__device__ __forceinline__ float warp_sum(float x)
{
#pragma unroll
    for (int o = 16; o > 0; o /= 2)
        x += __shfl_xor_sync(0xffffffffu, x, o);
    return x;
}

template <typename T>
__global__ void __launch_bounds__(SIMT_THREADS) fwd_simt_kernel(const __grid_constant__ pattn_cuda_fwd_launch_t L)
{
    const pattn_cuda_fwd_args_t &a = L.a;
    const CtaWork w = cta_work(L);
    const pattn_cuda_item_t &it = *w.item;
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    const int dp = (a.D + 31) / 32 * 32, nt = dp / 32;
    extern __shared__ float smem[];
    float *sQ = smem, *sK = sQ + SIMT_BR * dp, *sV = sK + SIMT_BC * (dp + 1);

    const T *qg = static_cast<const T *>(a.q) + (int64_t)w.b * a.q_sample_rows * a.q_stride +
                  (int64_t)w.h * a.D;
    const int64_t kv_off =
        (int64_t)w.b * a.kv_sample_rows * a.kv_stride + (int64_t)(w.h / a.r) * a.D;
    const T *kg = static_cast<const T *>(a.k) + kv_off;
    const T *vg = static_cast<const T *>(a.v) + kv_off;
    const uint8_t threshold = (uint8_t)a.keep_threshold;

    float o[SIMT_RPW][SIMT_MAXT], m[SIMT_RPW], l[SIMT_RPW];
#pragma unroll
    for (int r = 0; r < SIMT_RPW; ++r) {
        m[r] = -CUDART_INF_F;
        l[r] = 0.f;
#pragma unroll
        for (int t = 0; t < SIMT_MAXT; ++t)
            o[r][t] = 0.f;
    }

    load_rows_f32(sQ, dp, SIMT_BR, dp, qg, a.q_stride, a.D, it.tile_pos, query_span(it));
    const KeyTiles kt = key_tiles(it, SIMT_BC);
    for (int j = 0; j < kt.total; ++j) {
        int run_i, kbase;
        key_tile_at(kt, j, SIMT_BC, run_i, kbase);
        const pattn_cuda_run_t &run = it.runs[run_i];
        __syncthreads(); /* every warp is done with the previous tile */
        load_rows_f32(sK, dp + 1, SIMT_BC, dp, kg, a.kv_stride, a.D, kbase, key_span(run));
        load_rows_f32(sV, dp, SIMT_BC, dp, vg, a.kv_stride, a.D, kbase, key_span(run));
        __syncthreads();
        const int kpos = kbase + lane;
#pragma unroll
        for (int r = 0; r < SIMT_RPW; ++r) {
            const int row = warp * SIMT_RPW + r, qpos = it.tile_pos + row;
            float s = 0.f;
            for (int d = 0; d < a.D; ++d)
                s = fmaf(sQ[row * dp + d], sK[lane * (dp + 1) + d], s);
            const bool vis = key_visible(run, qpos, kpos);
            const float mx = fmaxf(m[r], warp_max(vis ? s : -CUDART_INF_F));
            const float msc = mx == -CUDART_INF_F ? 0.f : mx * a.scale_log2;
            const float alpha = m[r] == -CUDART_INF_F ? 0.f : exp2f(m[r] * a.scale_log2 - msc);
            float p = vis ? exp2f(s * a.scale_log2 - msc) : 0.f;
            m[r] = mx;
            l[r] = l[r] * alpha + p;
            if (a.dropout && vis &&
                !pattn_dropout_keep(a.seed, a.offset, w.unit, w.h, a.Hq, qpos, kpos, threshold))
                p = 0.f;
#pragma unroll
            for (int t = 0; t < SIMT_MAXT; ++t)
                o[r][t] *= alpha;
            for (int jj = 0; jj < SIMT_BC; ++jj) {
                const float pj = __shfl_sync(0xffffffffu, p, jj);
#pragma unroll
                for (int t = 0; t < SIMT_MAXT; ++t)
                    if (t < nt)
                        o[r][t] = fmaf(pj, sV[jj * dp + lane + 32 * t], o[r][t]);
            }
        }
    }

#pragma unroll
    for (int r = 0; r < SIMT_RPW; ++r) {
        const float sum = warp_sum(l[r]);
        const RowEnd e = row_end(a, w, it, it.tile_pos + warp * SIMT_RPW + r, m[r], sum);
        if (e.store)
#pragma unroll
            for (int c = 0; c < SIMT_MAXT; ++c)
                if (lane + 32 * c < a.D)
                    row_store1<T>(a, e, lane + 32 * c, o[r][c]);
        __syncwarp(); /* the warp has read the old lse (ACCUMULATE) */
        commit_lse(e, lane == 0);
    }
}

template <typename T>
cudaError_t launch_simt(const pattn_cuda_fwd_launch_t *L, int ctas, cudaStream_t stream)
{
    const int dp = (L->a.D + 31) / 32 * 32;
    const size_t smem = simt_smem_bytes(dp);
    const cudaError_t e = allow_smem<fwd_simt_kernel<T>>(simt_smem_bytes(256));
    if (e != cudaSuccess)
        return e;
    fwd_simt_kernel<T><<<ctas, SIMT_THREADS, smem, stream>>>(*L);
    return cudaGetLastError();
}

} // namespace pattn

extern "C" cudaError_t pattn_cuda_fwd_simt(const pattn_cuda_fwd_launch_t *L, int ctas,
                                           cudaStream_t stream)
{
    switch (L->a.dtype) {
    case PATTN_FP16:
        return pattn::launch_simt<__half>(L, ctas, stream);
    case PATTN_BF16:
        return pattn::launch_simt<__nv_bfloat16>(L, ctas, stream);
    default:
        return pattn::launch_simt<float>(L, ctas, stream);
    }
}
