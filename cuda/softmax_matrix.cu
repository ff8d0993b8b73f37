/*
 * softmax_matrix.cu: return_softmax (SPEC section 5). For every visible (query row, key) pair
 * of the work items, the normalised probability exp(scale * q.k - lse) before dropout, with the
 * sign bit set where dropout drops it (FlashAttention's encoding), at
 * softmax[unit][h][row - sm_row0][key position]. A warp takes a query row, its lanes the keys;
 * scores are recomputed in fp32 from the inputs. For testing only: nothing here is fast.
 */
#include "check.h"
#include "device_common.cuh"
#include "philox.h"
#include "simt_common.cuh"
#include "step.h"

namespace pattn {

constexpr int SOFTMAX_THREADS = 128;

template <typename T>
__global__ void __launch_bounds__(SOFTMAX_THREADS)
    softmax_kernel(const __grid_constant__ pattn_cuda_fwd_args_t a, float *softmax, int64_t rows,
                   int64_t cols)
{
    const Cta w = cta_of(a.items, a.num_items, a.Hq);
    const pattn_item_t &it = *w.item;
    const int lane = threadIdx.x % 32;
    const T *qg = head_rows<const T>(a.q, a.q_stride, a.sample_rows, w.b, w.h, a.D);
    const T *kg = head_rows<const T>(a.kv.k, a.kv.stride, a.kv.sample_rows, w.b, w.h / a.r, a.D);
    const uint8_t threshold = (uint8_t)a.drop.keep_threshold;

    for (int i = threadIdx.x / 32; i < it.len; i += SOFTMAX_THREADS / 32) {
        const int qpos = it.pos + i, t = it.row + i;
        const float lse =
            a.lse[(int64_t)w.b * a.lse_sample_stride + (int64_t)w.h * a.lse_head_stride + t];
        if (lse == -CUDART_INF_F)
            continue;
        const T *q = qg + (int64_t)t * a.q_stride;
        float *dst = softmax + (((int64_t)w.unit * a.Hq + w.h) * rows + (t - it.sm_row0)) * cols;
        for (int ri = 0; ri < it.num_runs; ++ri) {
            const pattn_item_run_t &run = it.runs[ri];
            for (int kpos = run.pos + lane; kpos < run.pos + run.len; kpos += 32) {
                if (!simt_visible<PATTN_QUERY_MAJOR>(run, qpos, kpos))
                    continue;
                const T *k = kg + (int64_t)(run.row + kpos - run.pos) * a.kv.stride;
                float s = 0.f;
                for (int d = 0; d < a.D; ++d)
                    s = fmaf(to_float(q[d]), to_float(k[d]), s);
                float p = expf(s * a.scale - lse);
                if (a.drop.on && !pattn_dropout_keep(a.drop.seed, a.drop.offset, w.unit, w.h, a.Hq,
                                                     qpos, kpos, threshold))
                    p = __int_as_float(__float_as_int(p) | (int)0x80000000u);
                dst[kpos] = p;
            }
        }
    }
}

} // namespace pattn

extern "C" pattnResult_t pattn_cuda_softmax(const pattn_cuda_fwd_args_t *a, float *softmax,
                                            int64_t rows, int64_t cols, cudaStream_t stream)
{
    if (a->num_items == 0)
        return pattnSuccess;
    const int ctas = a->num_items * a->Hq * a->B; /* bounded like the forward's (step.c) */
    switch (a->dtype) {
    case PATTN_FP16:
        pattn::softmax_kernel<__half><<<ctas, pattn::SOFTMAX_THREADS, 0, stream>>>(*a, softmax, rows, cols);
        break;
    case PATTN_BF16:
        pattn::softmax_kernel<__nv_bfloat16><<<ctas, pattn::SOFTMAX_THREADS, 0, stream>>>(*a, softmax, rows, cols);
        break;
    default:
        pattn::softmax_kernel<float><<<ctas, pattn::SOFTMAX_THREADS, 0, stream>>>(*a, softmax, rows, cols);
    }
    CUDA_CHECK(cudaGetLastError());
    return pattnSuccess;
}
