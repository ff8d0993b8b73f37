/*
 * softmax_matrix.cu: return_softmax (SPEC section 5). For every visible (query row, key) pair
 * of the work items, the normalised probability exp(scale * q.k - lse) before dropout, with the
 * sign bit set where dropout drops it (FlashAttention's encoding), at
 * softmax[unit][h][row - sm_row0][key position]. A warp takes a query row, its lanes the keys;
 * scores are recomputed in fp32 from the inputs. For testing only: nothing here is fast.
 */
#include "check.h"
#include "fwd_common.cuh"
#include "fwd_kernels.h"
#include "philox.h"

namespace pattn {

constexpr int SOFTMAX_THREADS = 128;

template <typename T>
__global__ void __launch_bounds__(SOFTMAX_THREADS)
    softmax_kernel(const __grid_constant__ pattn_cuda_fwd_launch_t L, float *softmax,
                   int64_t rows, int64_t cols)
{
    const pattn_cuda_fwd_args_t &a = L.a;
    const CtaWork w = cta_work(L);
    const pattn_cuda_item_t &it = *w.item;
    const int lane = threadIdx.x % 32;
    const T *qg = static_cast<const T *>(a.q) + (int64_t)w.b * a.q_sample_rows * a.q_stride +
                  (int64_t)w.h * a.D;
    const int64_t kv_off =
        (int64_t)w.b * a.kv_sample_rows * a.kv_stride + (int64_t)(w.h / a.r) * a.D;
    const T *kg = static_cast<const T *>(a.k) + kv_off;
    const uint8_t threshold = (uint8_t)a.keep_threshold;

    for (int i = threadIdx.x / 32; i < it.q_len; i += SOFTMAX_THREADS / 32) {
        const int qpos = it.q_pos + i, t = it.q_row + i;
        const float lse =
            a.lse[(int64_t)w.b * a.lse_sample_stride + (int64_t)w.h * a.lse_head_stride + t];
        if (lse == -CUDART_INF_F)
            continue;
        const T *q = qg + (int64_t)t * a.q_stride;
        float *dst = softmax + (((int64_t)w.unit * a.Hq + w.h) * rows + (t - it.sm_row0)) * cols;
        for (int ri = 0; ri < it.num_runs; ++ri) {
            const pattn_cuda_run_t &run = it.runs[ri];
            for (int kpos = run.pos + lane; kpos < run.pos + run.len; kpos += 32) {
                if (!key_visible(run, qpos, kpos))
                    continue;
                const T *k = kg + (int64_t)(run.row + kpos - run.pos) * a.kv_stride;
                float s = 0.f;
                for (int d = 0; d < a.D; ++d)
                    s = fmaf(to_float(q[d]), to_float(k[d]), s);
                float p = expf(s * a.scale - lse);
                if (a.dropout &&
                    !pattn_dropout_keep(a.seed, a.offset, w.unit, w.h, a.Hq, qpos, kpos, threshold))
                    p = __int_as_float(__float_as_int(p) | (int)0x80000000u);
                dst[kpos] = p;
            }
        }
    }
}

template <typename T>
cudaError_t launch_softmax(const pattn_cuda_fwd_launch_t *L, int ctas, float *softmax,
                           int64_t rows, int64_t cols, cudaStream_t stream)
{
    softmax_kernel<T><<<ctas, SOFTMAX_THREADS, 0, stream>>>(*L, softmax, rows, cols);
    return cudaGetLastError();
}

/* The softmax pass through the same chunked launches as the forward kernels. */
struct SoftmaxLauncher {
    float *softmax;
    int64_t rows, cols;
    cudaError_t operator()(const pattn_cuda_fwd_launch_t *L, int ctas, cudaStream_t s) const
    {
        switch (L->a.dtype) {
        case PATTN_FP16:
            return launch_softmax<__half>(L, ctas, softmax, rows, cols, s);
        case PATTN_BF16:
            return launch_softmax<__nv_bfloat16>(L, ctas, softmax, rows, cols, s);
        default:
            return launch_softmax<float>(L, ctas, softmax, rows, cols, s);
        }
    }
};

} // namespace pattn

#include "launch_chunks.cuh"

extern "C" pattnResult_t pattn_cuda_softmax_items(const pattn_cuda_fwd_args_t *a,
                                                  const pattn_cuda_item_t *items, int64_t count,
                                                  float *softmax, int64_t rows, int64_t cols,
                                                  cudaStream_t stream)
{
    return pattn::launch_in_chunks(a, items, count, stream, "softmax",
                                   pattn::SoftmaxLauncher{softmax, rows, cols});
}
