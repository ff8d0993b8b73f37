/*
 * fwd_tma_wide.cuh: fwd_tma.cuh's kernel with three consumer warpgroups (192-row tiles, FA3's
 * d64 choice; config.h), which the registry runs without dropout (causal: from 1536 queries).
 */
#ifndef PATTN_CUDA_FWD_TMA_WIDE_CUH
#define PATTN_CUDA_FWD_TMA_WIDE_CUH

#include "fwd_tma.cuh"

/* Defines pattn_cuda_fwd_tma_wide_d<D> (registry.h). */
#define PATTN_DEFINE_FWD_TMA_WIDE(D_)                                                              \
    PATTN_DEFINE_LAUNCHER(fwd_tma_wide, D_,                                                        \
                          pattn::dispatch_fwd<pattn::FwdTma<pattn::TmaFwd<D_, 3>>>)

#endif /* PATTN_CUDA_FWD_TMA_WIDE_CUH */
