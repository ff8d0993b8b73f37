/*
 * fwd_rank.h: one rank's forward on the GPU, from a validated problem (core/problem.h): the
 * kernel arguments of a member's call and the whole single-rank forward (items, kernel,
 * return_softmax). The NCCL ring builds on the same pieces, one ring step at a time.
 */
#ifndef PATTN_CUDA_FWD_RANK_H
#define PATTN_CUDA_FWD_RANK_H

#include <cuda_runtime_api.h>

#include "backend.h"
#include "fwd_args.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Arguments for member k's queries against the K/V in the fused kv_qkv array (the same layout
 * as qkv, kv_member's rows), writing out (FINAL: dtype; ACCUMULATE: fp32) and lse. */
void pattn_cuda_args_for(const pattn_problem_t *p, int k, int kv_member, pattn_rng_t rng,
                         const void *qkv, const void *kv_qkv, void *out, float *lse,
                         pattn_cuda_mode_t mode, pattn_cuda_fwd_args_t *a);

/* The single-rank forward (p->n == 1) on stream: out and lse (FINAL), then softmax when it is
 * not NULL. general = 1 runs the general kernel whatever the dtype (tests). */
pattnResult_t pattn_cuda_forward_rank(const pattn_problem_t *p, pattn_rng_t rng, const void *qkv,
                                      void *out, float *lse, float *softmax, cudaStream_t stream,
                                      int general);

#ifdef __cplusplus
}
#endif

#endif /* PATTN_CUDA_FWD_RANK_H */
