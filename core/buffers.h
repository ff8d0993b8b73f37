/*
 * buffers.h: SPEC section 1's rule on a call's arrays: outputs overlap neither the inputs nor
 * each other. The byte range of every array follows from the validated problem, so an overlap
 * is found before anything is computed; pointers of one address space compare as numbers
 * (host memory, or device memory under CUDA's unified addressing).
 */
#ifndef PATTN_CORE_BUFFERS_H
#define PATTN_CORE_BUFFERS_H

#include "problem.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Arrays of a forward: one entry per ring member when emulated, else one entry for this rank.
 * softmax may be NULL (no return_softmax); rng_state holds 2 int64 per entry. */
pattnResult_t pattn_check_forward_buffers(const pattn_problem_t *p, int emulated,
                                          const void *const *qkv, void *const *out,
                                          float *const *lse, float *const *softmax,
                                          const int64_t *rng_state);

/* Arrays of a backward, laid out as for the forward. */
pattnResult_t pattn_check_backward_buffers(const pattn_problem_t *p, int emulated,
                                           const void *const *qkv, const void *const *out,
                                           const float *const *lse, const void *const *dout,
                                           void *const *dqkv);

#ifdef __cplusplus
}
#endif

#endif /* PATTN_CORE_BUFFERS_H */
