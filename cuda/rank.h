/*
 * rank.h: one rank's forward and backward on the GPU (p->n == 1, or a ring member's own block
 * in tests): one step of the block executor (step.h) against the member's own K/V, FINAL.
 */
#ifndef PATTN_CUDA_RANK_H
#define PATTN_CUDA_RANK_H

#include <cuda_runtime_api.h>

#include "backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Whether the arrays suit the tensor-core kernels (16-byte loads, 4-byte pair stores). */
int pattn_cuda_aligned(const void *const *loads, int num_loads, const void *const *stores,
                       int num_stores);

/* out, lse (FINAL) and, when softmax is not NULL, return_softmax. state: the handle's slot for
 * the backend's caches (call.h), or NULL. */
pattnResult_t pattn_cuda_forward_rank(const pattn_problem_t *p, pattn_rng_t rng, const void *qkv,
                                      void *out, float *lse, float *softmax, void **state,
                                      cudaStream_t stream);

/* dqkv from dout and the forward's qkv, out and lse. */
pattnResult_t pattn_cuda_backward_rank(const pattn_problem_t *p, pattn_rng_t rng, const void *qkv,
                                       const void *out, const float *lse, const void *dout,
                                       void *dqkv, void **state, cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif /* PATTN_CUDA_RANK_H */
