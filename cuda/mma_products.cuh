/*
 * mma_products.cuh: the two warp-level matrix products of the backward kernels on mma.sync
 * m16n8k16, between the padded shared-memory layout (smem_tiles.cuh) and m16n8 accumulator
 * tiles in registers (fragment.cuh): C = A B^T with both operands in shared memory, and
 * acc += P B with P an accumulator tile used as the A operand.
 */
#ifndef PATTN_CUDA_MMA_PRODUCTS_CUH
#define PATTN_CUDA_MMA_PRODUCTS_CUH

#include "fragment.cuh"
#include "smem_tiles.cuh"

namespace pattn {

/* C[16 x 8 NT] = A (16 rows at a_tile, all D columns) B^T (B: 8 NT rows at b_tile), both in the
 * padded layout: the S^T = K Q^T and dP^T = V dO^T products. */
template <typename T, int D, int NT, int S>
__device__ __forceinline__ void product_abt(float (&c)[NT][4], const T *a_tile, const T *b_tile,
                                            const LdsmLane &ln)
{
    zero(c);
#pragma unroll
    for (int ks = 0; ks < D / 16; ++ks) {
        uint32_t af[4];
        ldsm_x4(af, a_tile + ln.a_row * S + ks * 16 + ln.a_col);
#pragma unroll
        for (int np = 0; np < NT / 2; ++np) {
            uint32_t bf[4];
            ldsm_x4(bf, b_tile + (np * 16 + ln.b_row) * S + ks * 16 + ln.b_col);
            Mma<T>::run(c[2 * np], af, bf[0], bf[1]);
            Mma<T>::run(c[2 * np + 1], af, bf[2], bf[3]);
        }
    }
}

/* acc[16 x 8 DT] += P (the 16 x 8 NT accumulator tile p, as the A operand) B (8 NT rows at
 * b_tile, DT 8-column chunks from column col0), B read transposed: dV += P^T dO, dK += dS^T Q,
 * dQ += dS K. SPLIT: P goes in as two dtype terms, hi = rd(p) and lo = rd(p - hi), so the
 * product carries p to about twice the dtype's precision (one more mma per step, same loads):
 * dS, whose rounding to 8 (bf16) or 11 (fp16) bits otherwise dominates dK and dQ where the sums
 * cancel (measured: 17 of 300 random cross-checks beyond the tolerance with one term, all in
 * dK or dQ, none in dV). */
template <typename T, int NT, int DT, int S, bool SPLIT = false>
__device__ __forceinline__ void product_ab(float (&acc)[DT][4], const float (&p)[NT][4],
                                           const T *b_tile, int col0, const LdsmLane &ln)
{
#pragma unroll
    for (int kk = 0; kk < NT / 2; ++kk) {
        uint32_t pa[4], lo[4];
        pack_a<T>(p, kk, pa);
        if (SPLIT)
            pack_a_rest<T>(p, kk, pa, lo);
#pragma unroll
        for (int dp = 0; dp < DT / 2; ++dp) {
            uint32_t vf[4];
            ldsm_x4_trans(vf, b_tile + (kk * 16 + ln.a_row) * S + col0 + dp * 16 + ln.a_col);
            Mma<T>::run(acc[2 * dp], pa, vf[0], vf[1]);
            Mma<T>::run(acc[2 * dp + 1], pa, vf[2], vf[3]);
            if (SPLIT) {
                Mma<T>::run(acc[2 * dp], lo, vf[0], vf[1]);
                Mma<T>::run(acc[2 * dp + 1], lo, vf[2], vf[3]);
            }
        }
    }
}

} // namespace pattn

#endif /* PATTN_CUDA_MMA_PRODUCTS_CUH */
