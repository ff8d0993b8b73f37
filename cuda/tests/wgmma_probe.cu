/*
 * wgmma_probe.cu: checks the layouts the wgmma forward kernel relies on (wgmma_ops.cuh), on one
 * warpgroup and random bf16 data against a host product, so that a wrong descriptor shows as
 * such and not as a wrong attention output:
 *   ss   C (64 x 128) = A (64 x 128) B^T, A and B K-major in the swizzled layout (S = Q K^T);
 *   rs   C (64 x N) = P (64 x 128, registers) V (128 x N), V N-major (O += P V), N = 64 and 128
 *        (the 64-column blocks' stride in LBO, 8-row groups' in SBO).
 * Prints the max error of each and exits 1 when one is wrong. (The other reading of LBO/SBO,
 * block stride in SBO, addresses past the tile: probing it faulted, so it is not probed.)
 */
#include <cuda_bf16.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "mma_ops.cuh"
#include "wgmma_ops.cuh"
#include "exit_on_cuda_error.h"

using pattn::Wgmma;
typedef __nv_bfloat16 T;


/* Writes a rows x cols row-major matrix into the swizzled layout at smem (all 128 threads). */
__device__ void store_sw128(unsigned char *smem, const T *g, int rows, int cols)
{
    for (int idx = threadIdx.x; idx < rows * cols / 8; idx += blockDim.x) {
        const int r = idx / (cols / 8), c = idx % (cols / 8);
        *reinterpret_cast<uint4 *>(smem + pattn::sw128_offset(rows, r, c)) =
            *reinterpret_cast<const uint4 *>(g + r * cols + c * 8);
    }
    pattn::fence_proxy_async();
    __syncthreads();
}

/* Stores the m64 x N accumulator of this thread into c (row-major). */
template <int N> __device__ void store_acc(float *c, const float *d)
{
    const int lane = threadIdx.x % 32, row0 = (threadIdx.x / 32) * 16 + lane / 4;
    for (int nt = 0; nt < N / 8; ++nt)
        for (int e = 0; e < 4; ++e)
            c[(row0 + 8 * (e / 2)) * N + nt * 8 + 2 * (lane % 4) + e % 2] = d[nt * 4 + e];
}

__global__ void probe_ss(const T *a, const T *b, float *c)
{
    __shared__ __align__(1024) unsigned char sa[64 * 128 * 2], sb[128 * 128 * 2];
    store_sw128(sa, a, 64, 128);
    store_sw128(sb, b, 128, 128);
    float d[64];
    pattn::wgmma_fence();
    for (int ks = 0; ks < 8; ++ks) {
        const uint32_t off = (ks % 4) * 32; /* k16 steps within a 64-column block */
        Wgmma<T, 128>::ss(d, pattn::sw128_desc(pattn::smem_u32(sa) + (ks / 4) * 64 * 128 + off, 16, 1024),
                          pattn::sw128_desc(pattn::smem_u32(sb) + (ks / 4) * 128 * 128 + off, 16, 1024),
                          ks > 0);
    }
    pattn::wgmma_commit();
    pattn::wgmma_wait<0>();
    store_acc<128>(c, d);
}

template <int N> __global__ void probe_rs(const T *p, const T *v, float *c)
{
    __shared__ __align__(1024) unsigned char sv[128 * N * 2];
    store_sw128(sv, v, 128, N);
    const int lane = threadIdx.x % 32, row0 = (threadIdx.x / 32) * 16 + lane / 4;
    float d[N / 2];
    for (int i = 0; i < N / 2; ++i)
        d[i] = 0.f;
    uint32_t pa[8][4];
    for (int kk = 0; kk < 8; ++kk)
        for (int e = 0; e < 4; ++e) {
            const int row = row0 + 8 * (e % 2), col = kk * 16 + 8 * (e / 2) + 2 * (lane % 4);
            pa[kk][e] = pattn::Mma<T>::pack(__bfloat162float(p[row * 128 + col]),
                                            __bfloat162float(p[row * 128 + col + 1]));
        }
    pattn::wgmma_fence();
    for (int kk = 0; kk < 8; ++kk)
        Wgmma<T, N>::rs(d, pa[kk], pattn::sw128_desc(pattn::smem_u32(sv) + kk * 16 * 128, 128 * 128, 1024));
    pattn::wgmma_commit();
    pattn::wgmma_wait<0>();
    store_acc<N>(c, d);
}

static float frand(void) { return (float)rand() / RAND_MAX * 2.f - 1.f; }

static T *upload(float *h, int n)
{
    T *hb = (T *)malloc(sizeof(T) * n), *d;
    if (!hb)
        exit(1);
    for (int i = 0; i < n; ++i) {
        hb[i] = __float2bfloat16(h[i]);
        h[i] = __bfloat162float(hb[i]);
    }
    EXIT_ON_CUDA_ERROR(cudaMalloc((void **)&d, sizeof(T) * n));
    EXIT_ON_CUDA_ERROR(cudaMemcpy(d, hb, sizeof(T) * n, cudaMemcpyHostToDevice));
    free(hb);
    return d;
}

/* Max |c - ref| of the device result c (m x n). */
static double max_err(const float *dc, const float *ref, int n)
{
    float *c = (float *)malloc(sizeof(float) * n);
    if (!c)
        exit(1);
    EXIT_ON_CUDA_ERROR(cudaMemcpy(c, dc, sizeof(float) * n, cudaMemcpyDeviceToHost));
    double e = 0;
    for (int i = 0; i < n; ++i)
        e = fmax(e, isnan(c[i]) ? INFINITY : fabs(c[i] - ref[i]));
    free(c);
    return e;
}

int main(void)
{
    static float a[64 * 128], b[128 * 128], ref[64 * 128];
    srand(7);
    for (int i = 0; i < 64 * 128; ++i)
        a[i] = frand();
    for (int i = 0; i < 128 * 128; ++i)
        b[i] = frand();
    T *da = upload(a, 64 * 128), *db = upload(b, 128 * 128);
    float *dc;
    EXIT_ON_CUDA_ERROR(cudaMalloc((void **)&dc, sizeof(float) * 64 * 128));
    int bad = 0;

    for (int i = 0; i < 64; ++i) /* ss: C = A B^T */
        for (int j = 0; j < 128; ++j) {
            double s = 0;
            for (int k = 0; k < 128; ++k)
                s += (double)a[i * 128 + k] * b[j * 128 + k];
            ref[i * 128 + j] = (float)s;
        }
    EXIT_ON_CUDA_ERROR(cudaMemset(dc, 0xff, sizeof(float) * 64 * 128));
    probe_ss<<<1, 128>>>(da, db, dc);
    EXIT_ON_CUDA_ERROR(cudaGetLastError());
    double e = max_err(dc, ref, 64 * 128);
    printf("wgmma-probe ss  m64n128k16 K-major sw128          : max err %.3g %s\n", e, e < 1e-2 ? "MATCH" : "WRONG");
    bad |= !(e < 1e-2);

    for (int n = 64; n <= 128; n += 64) { /* rs: C = P V with V = b as 128 keys x n */
        for (int i = 0; i < 64; ++i)
            for (int j = 0; j < n; ++j) {
                double s = 0;
                for (int k = 0; k < 128; ++k)
                    s += (double)a[i * 128 + k] * b[k * n + j];
                ref[i * n + j] = (float)s;
            }
        EXIT_ON_CUDA_ERROR(cudaMemset(dc, 0xff, sizeof(float) * 64 * 128));
        if (n == 64)
            probe_rs<64><<<1, 128>>>(da, db, dc);
        else
            probe_rs<128><<<1, 128>>>(da, db, dc);
        EXIT_ON_CUDA_ERROR(cudaGetLastError());
        e = max_err(dc, ref, 64 * n);
        printf("wgmma-probe rs  m64n%dk16 N-major sw128 (P in registers): max err %.3g %s\n", n, e,
               e < 1e-2 ? "MATCH" : "WRONG");
        bad |= !(e < 1e-2);
    }
    EXIT_ON_CUDA_ERROR(cudaDeviceSynchronize());
    printf("wgmma-probe: %s\n", bad ? "a layout the kernel uses is WRONG" : "the kernel's layouts match");
    return bad;
}
