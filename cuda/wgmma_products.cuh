/*
 * wgmma_products.cuh: one warpgroup's products on wgmma (m64, fp32 accumulators in the fragment
 * layout of fragment.cuh), shared by the Hopper forwards (fwd_wgmma.cuh, fwd_tma.cuh) and
 * backward (bwd_tma.cuh), on 128-byte swizzled tiles (wgmma_ops.cuh: a tile of R rows is
 * column blocks of 64 elements, R * 128 bytes each). Each product is issued and committed as one
 * wgmma group, not waited for.
 *   issue_abt  acc = A B^T, A's 64 rows and B's N rows both K-major (rows of the D contracted
 *              columns): S = Q K^T, and the backward's S^T = K Q^T and dP^T = V dO^T;
 *   issue_pb   acc += P B, P from registers (pack_p), B a tile of K rows read N-major:
 *              O += P V, and the backward's dV += P^T dO and dK += dS^T Q;
 *   issue_atb  acc = A^T B, A and B tiles of K rows read N-major, 64 columns each: the
 *              backward's dQ = dS K from dS^T as stored.
 */
#ifndef PATTN_CUDA_WGMMA_PRODUCTS_CUH
#define PATTN_CUDA_WGMMA_PRODUCTS_CUH

#include "fragment.cuh"
#include "wgmma_ops.cuh"

namespace pattn {

/* acc (64 x N) = A B^T over D columns: A's rows start at a_addr in a tile of A_ROWS rows, B is a
 * tile of N rows; D / 16 k16 steps of 32 bytes within a 64-column block. */
template <typename T, int D, int A_ROWS, int N>
__device__ __forceinline__ void issue_abt(float (&acc)[N / 8][4], uint32_t a_addr, uint32_t b_addr)
{
#pragma unroll
    for (int ks = 0; ks < D / 16; ++ks) {
        const uint32_t off = (ks % 4) * 32;
        const uint64_t da = sw128_desc(a_addr + (ks / 4) * A_ROWS * 128 + off, 16, 1024);
        const uint64_t db = sw128_desc(b_addr + (ks / 4) * N * 128 + off, 16, 1024);
        if (ks == 0)
            Wgmma<T, N>::ss_init(&acc[0][0], da, db);
        else
            Wgmma<T, N>::ss(&acc[0][0], da, db, 1);
    }
    wgmma_commit();
}

/* acc (64 x N) += P B over K: k16 step kk takes B's rows 16 kk.. (2048 bytes further on).
 * Above N = 128 (the forward's O at d192 and d256) each step is one wgmma per 128 columns of B
 * (two 64-column blocks, K * 256 bytes apart) and one of 64 for the rest. */
template <typename T, int N, int K>
__device__ __forceinline__ void issue_pb(float (&acc)[N / 8][4], uint32_t (&pa)[K / 16][4],
                                         uint32_t b_addr)
{
    static_assert(N % 64 == 0, "whole 64-column blocks of B");
    constexpr int WIDE = N <= 128 ? 0 : N / 128, REST = N <= 128 ? N : N % 128;
#pragma unroll
    for (int kk = 0; kk < K / 16; ++kk) {
        const uint32_t b = b_addr + kk * 16 * 128;
#pragma unroll
        for (int p = 0; p < WIDE; ++p)
            Wgmma<T, 128>::rs(&acc[16 * p][0], pa[kk], sw128_desc(b + p * K * 256, K * 128, 1024));
        if constexpr (REST > 0)
            Wgmma<T, REST>::rs(&acc[16 * WIDE][0], pa[kk],
                               sw128_desc(b + WIDE * K * 256, K * 128, 1024));
    }
    wgmma_commit();
}

/* acc (64 x 64) = A^T B over K: A's and B's k16 step kk is rows 16 kk.. of their tiles. */
template <typename T, int K>
__device__ __forceinline__ void issue_atb(float (&acc)[8][4], uint32_t a_addr, uint32_t b_addr)
{
#pragma unroll
    for (int kk = 0; kk < K / 16; ++kk)
        Wgmma<T, 64>::ss_tt(&acc[0][0], sw128_desc(a_addr + kk * 16 * 128, K * 128, 1024),
                            sw128_desc(b_addr + kk * 16 * 128, K * 128, 1024), kk > 0);
    wgmma_commit();
}

/* A tile after the softmax (P, or the backward's dS^T) as the A operands of issue_pb, in the
 * dtype T. */
template <typename T, int NT>
__device__ __forceinline__ void pack_p(const float (&s)[NT][4], uint32_t (&pa)[NT / 2][4])
{
#pragma unroll
    for (int kk = 0; kk < NT / 2; ++kk) {
        pack_a<T>(s, kk, pa[kk]);
#pragma unroll
        for (int e = 0; e < 4; ++e)
            fence_reg(pa[kk][e]);
    }
}

} // namespace pattn

#endif /* PATTN_CUDA_WGMMA_PRODUCTS_CUH */
