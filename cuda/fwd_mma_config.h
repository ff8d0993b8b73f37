/*
 * fwd_mma_config.h: the tile shapes of the tensor-core forward kernel, one per compiled head
 * dim (FlashAttention-2's choices for sm_80+): BR query rows per CTA in NW warps of MT 16-row
 * tiles each, BC keys per step. Shared by the kernel instantiations and the registry.
 */
#ifndef PATTN_CUDA_FWD_MMA_CONFIG_H
#define PATTN_CUDA_FWD_MMA_CONFIG_H

#include <stddef.h>

namespace pattn {

template <int D_, int MT_, int NW_, int BC_> struct MmaConfig {
    static constexpr int D = D_;   /* head dim of the variant (smaller ones are zero-padded) */
    static constexpr int MT = MT_; /* 16-row tiles per warp */
    static constexpr int NW = NW_; /* warps */
    static constexpr int BC = BC_; /* keys per step */
    static constexpr int BR = 16 * MT * NW;
    static constexpr int THREADS = 32 * NW;
    static constexpr int STRIDE = D + 8; /* shared-memory row pitch in elements: 16 bytes of pad
                                            keep ldmatrix free of bank conflicts */
    static constexpr int MIN_CTAS = NW == 4 ? 2 : 1;
    static constexpr size_t SMEM = (size_t)(BR + 4 * BC) * STRIDE * 2; /* Q, 2 x (K, V) */
    static_assert(D % 32 == 0 && BC % 32 == 0, "head dims and key tiles are multiples of 32");
};

template <int D> struct MmaConfigFor;
template <> struct MmaConfigFor<32> : MmaConfig<32, 2, 4, 128> {};
template <> struct MmaConfigFor<64> : MmaConfig<64, 2, 4, 128> {}; /* 4% faster than 64 */
template <> struct MmaConfigFor<96> : MmaConfig<96, 2, 4, 64> {};
template <> struct MmaConfigFor<128> : MmaConfig<128, 2, 4, 64> {};
template <> struct MmaConfigFor<160> : MmaConfig<160, 1, 8, 64> {};
template <> struct MmaConfigFor<192> : MmaConfig<192, 1, 8, 64> {};
template <> struct MmaConfigFor<224> : MmaConfig<224, 1, 8, 64> {};
template <> struct MmaConfigFor<256> : MmaConfig<256, 1, 8, 64> {};

} // namespace pattn

#endif /* PATTN_CUDA_FWD_MMA_CONFIG_H */
