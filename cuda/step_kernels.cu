/*
 * step_kernels.cu: the small kernels around the attention kernels (step.h): the backward's
 * rowsum(dO * O), the fill of ACCUMULATE's running lse, the sum of two fp32 accumulators, and the
 * casts of fp32 accumulators to the dtype, each a grid-stride loop.
 */
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math.h>

#include "check.h"
#include "device_common.cuh"
#include "step.h"

namespace {

int grid_for(int64_t n)
{
    const int64_t blocks = (n + 255) / 256;
    return (int)(blocks < 4096 ? (blocks > 0 ? blocks : 1) : 4096);
}

__global__ void fill_kernel(float *x, int64_t n, float value)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        x[i] = value;
}

__global__ void add_kernel(float *x, const float *y, int64_t n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        x[i] += y[i];
}

/* dst row i, column c = src row i, column c (fp32 -> T), rows x cols. */
template <typename T>
__global__ void cast_rows_kernel(const float *src, int64_t src_stride, T *dst, int64_t dst_stride,
                                 int64_t rows, int64_t cols)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < rows * cols;
         i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t r = i / cols, c = i % cols;
        dst[r * dst_stride + c] = pattn::from_float<T>(src[r * src_stride + c]);
    }
}

/* One warp per (row, head): dsum = sum over d of dO * O, in fp32 from the dtype. */
template <typename T>
__global__ void dsum_kernel(const T *out, const T *dout, int64_t stride, int64_t rows,
                            int64_t sample_rows, int Hq, int D, float *dsum,
                            int64_t lse_sample_stride, int64_t lse_head_stride)
{
    const int lane = threadIdx.x % 32;
    const int64_t warps = (int64_t)gridDim.x * (blockDim.x / 32);
    for (int64_t x = blockIdx.x * (int64_t)(blockDim.x / 32) + threadIdx.x / 32; x < rows * Hq;
         x += warps) {
        const int64_t row = x / Hq;
        const int h = (int)(x % Hq);
        const T *o = out + row * stride + (int64_t)h * D, *g = dout + row * stride + (int64_t)h * D;
        float sum = 0.f;
        for (int d = lane; d < D; d += 32)
            sum = fmaf(pattn::to_float(o[d]), pattn::to_float(g[d]), sum);
#pragma unroll
        for (int off = 16; off > 0; off /= 2)
            sum += __shfl_xor_sync(0xffffffffu, sum, off);
        if (lane == 0) {
            const int64_t b = row / sample_rows, t = row % sample_rows;
            dsum[b * lse_sample_stride + h * lse_head_stride + t] = sum;
        }
    }
}

template <typename T>
cudaError_t launch_dsum(const void *out, const void *dout, int64_t stride, int64_t rows,
                        int64_t sample_rows, int Hq, int D, float *dsum, int64_t lss, int64_t lhs,
                        cudaStream_t s)
{
    const int64_t warps = rows * Hq, blocks = (warps + 7) / 8;
    dsum_kernel<T><<<(int)(blocks < 8192 ? (blocks > 0 ? blocks : 1) : 8192), 256, 0, s>>>(
        static_cast<const T *>(out), static_cast<const T *>(dout), stride, rows, sample_rows, Hq,
        D, dsum, lss, lhs);
    return cudaGetLastError();
}

} // namespace

extern "C" pattnResult_t pattn_cuda_fill(float *x, int64_t n, float value, cudaStream_t stream)
{
    if (n <= 0)
        return pattnSuccess;
    fill_kernel<<<grid_for(n), 256, 0, stream>>>(x, n, value);
    CUDA_CHECK(cudaGetLastError());
    return pattnSuccess;
}

extern "C" pattnResult_t pattn_cuda_add(float *x, const float *y, int64_t n, cudaStream_t stream)
{
    if (n <= 0)
        return pattnSuccess;
    add_kernel<<<grid_for(n), 256, 0, stream>>>(x, y, n);
    CUDA_CHECK(cudaGetLastError());
    return pattnSuccess;
}

extern "C" pattnResult_t pattn_cuda_cast_rows(pattnDtype_t dtype, const float *src,
                                              int64_t src_stride, void *dst, int64_t dst_stride,
                                              int64_t rows, int64_t cols, cudaStream_t stream)
{
    if (rows <= 0 || cols <= 0)
        return pattnSuccess;
    const int grid = grid_for(rows * cols);
    switch (dtype) {
    case PATTN_FP16:
        cast_rows_kernel<<<grid, 256, 0, stream>>>(src, src_stride, static_cast<__half *>(dst),
                                                    dst_stride, rows, cols);
        break;
    case PATTN_BF16:
        cast_rows_kernel<<<grid, 256, 0, stream>>>(src, src_stride,
                                                    static_cast<__nv_bfloat16 *>(dst), dst_stride,
                                                    rows, cols);
        break;
    default:
        cast_rows_kernel<<<grid, 256, 0, stream>>>(src, src_stride, static_cast<float *>(dst),
                                                    dst_stride, rows, cols);
    }
    CUDA_CHECK(cudaGetLastError());
    return pattnSuccess;
}

extern "C" pattnResult_t pattn_cuda_dsum(const pattn_problem_t *p, int k, const void *out,
                                         const void *dout, float *dsum, cudaStream_t stream)
{
    const int64_t rows = p->rows[k], sample_rows = pattn_sample_rows(p, k);
    int64_t lss, lhs;
    pattn_lse_strides(p, k, &lss, &lhs);
    if (rows == 0)
        return pattnSuccess;
    cudaError_t e;
    switch (p->dtype) {
    case PATTN_FP16:
        e = launch_dsum<__half>(out, dout, p->out_cols, rows, sample_rows, (int)p->Hq, (int)p->D,
                                dsum, lss, lhs, stream);
        break;
    case PATTN_BF16:
        e = launch_dsum<__nv_bfloat16>(out, dout, p->out_cols, rows, sample_rows, (int)p->Hq,
                                       (int)p->D, dsum, lss, lhs, stream);
        break;
    default:
        e = launch_dsum<float>(out, dout, p->out_cols, rows, sample_rows, (int)p->Hq, (int)p->D,
                               dsum, lss, lhs, stream);
    }
    CUDA_CHECK(e);
    return pattnSuccess;
}
