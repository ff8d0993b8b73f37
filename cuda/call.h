/*
 * call.h: what one CUDA call needs beyond its arrays: the work-item plans (step.h) and a
 * workspace, cached across calls in a handle's state, or owned by the call when it has no handle.
 *
 * A handle (pattnCreate) keeps the plans of its recent problems in device memory, keyed by
 * everything the items depend on (shapes, ring, lengths, cu_seqlens contents, kernel), so that a
 * training loop calling the same shapes again builds and uploads nothing; and one grow-only
 * workspace. A handle is used by one thread at a time; its cached memory is freed by
 * pattnDestroy. Without a handle every call builds its plans and frees them at its end.
 */
#ifndef PATTN_CUDA_CALL_H
#define PATTN_CUDA_CALL_H

#include "step.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pattn_cuda_state pattn_cuda_state_t;

/* Frees a handle's state (its cached plans and workspace). */
void pattn_cuda_state_free(void *state);

#define PATTN_CUDA_CALL_PLANS 4 /* plans one call may own (no handle) */

typedef struct pattn_cuda_call {
    pattn_cuda_state_t *state; /* NULL: nothing is cached */
    cudaStream_t stream;
    pattn_cuda_plan_t owned[PATTN_CUDA_CALL_PLANS];
    int num_owned;
    void *workspace; /* owned by the call when state is NULL */
} pattn_cuda_call_t;

/* Starts a call; state_slot is the handle's slot for the CUDA backend's state (created here on
 * first use), or NULL without a handle. */
pattnResult_t pattn_cuda_call_begin(pattn_cuda_call_t *c, void **state_slot, cudaStream_t stream);

/* The plan of member k's items for steps 0..steps-1 cut for kernel (pattn_cuda_plan_build): the
 * cached one, or one built now. */
pattnResult_t pattn_cuda_call_plan(pattn_cuda_call_t *c, const pattn_problem_t *p, int k,
                                   int steps, const pattn_cuda_kernel_t *kernel, int every_tile,
                                   const pattn_cuda_plan_t **plan);

/* bytes rounded up to the 256 bytes at which the parts of a workspace start (aligned for TMA's
 * 16-byte and the kernels' vector accesses, as cudaMalloc aligns the whole). */
static inline size_t pattn_cuda_workspace_part(size_t bytes) { return (bytes + 255) / 256 * 256; }

/* At least `bytes` of device memory for the call's own use until its end (one per call). */
pattnResult_t pattn_cuda_call_workspace(pattn_cuda_call_t *c, size_t bytes, void **ptr);

/* Ends the call: releases what it owns (stream-ordered). Returns r, or the release's failure
 * when r is a success. */
pattnResult_t pattn_cuda_call_end(pattn_cuda_call_t *c, pattnResult_t r);

#ifdef __cplusplus
}
#endif

#endif /* PATTN_CUDA_CALL_H */
