/*
 * wgmma_products.cuh: the forward's two products for one warpgroup on wgmma, shared by the Hopper
 * forwards (fwd_wgmma.cuh, fwd_tma.cuh): S = Q K^T with both operands in 128-byte swizzled
 * shared memory, P packed from S's accumulator into the A operand, and O += P V with V from
 * shared memory (N-major). C is the kernel's configuration (config.h: D, ROWS, BC); Q's tile has
 * ROWS rows and the warpgroup's 64 start at q_addr. Each product is issued and committed as one
 * wgmma group, not waited for.
 */
#ifndef PATTN_CUDA_WGMMA_PRODUCTS_CUH
#define PATTN_CUDA_WGMMA_PRODUCTS_CUH

#include "fragment.cuh"
#include "wgmma_ops.cuh"

namespace pattn {

/* S = Q K^T for one warpgroup: D / 16 k16 steps (32 bytes each within a 64-column
 * block); issued, not waited for. */
template <typename T, class C>
__device__ __forceinline__ void issue_scores(float (&s)[C::BC / 8][4], uint32_t q_addr,
                                             uint32_t k_addr)
{
#pragma unroll
    for (int ks = 0; ks < C::D / 16; ++ks) {
        const uint32_t off = (ks % 4) * 32;
        const uint64_t da = sw128_desc(q_addr + (ks / 4) * C::ROWS * 128 + off, 16, 1024);
        const uint64_t db = sw128_desc(k_addr + (ks / 4) * C::BC * 128 + off, 16, 1024);
        if (ks == 0)
            Wgmma<T, C::BC>::ss_init(&s[0][0], da, db);
        else
            Wgmma<T, C::BC>::ss(&s[0][0], da, db, 1);
    }
    wgmma_commit();
}

/* O += P V: k16 step kk takes keys 16 kk.. (2048 bytes of V further on); issued, not waited for. */
template <typename T, class C>
__device__ __forceinline__ void issue_pv(float (&o)[C::D / 8][4], uint32_t (&pa)[C::BC / 16][4],
                                         uint32_t v_addr)
{
#pragma unroll
    for (int kk = 0; kk < C::BC / 16; ++kk)
        Wgmma<T, C::D>::rs(&o[0][0], pa[kk], sw128_desc(v_addr + kk * 16 * 128, C::BC * 128, 1024));
    wgmma_commit();
}

/* P (the tile s after the softmax) as the A operands of P V, in the dtype T. */
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
