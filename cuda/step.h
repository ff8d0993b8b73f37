/*
 * step.h: the CUDA block executor: one ring step of one member, the only way the single-rank
 * path (rank.c) and the ring (dist/) reach the kernels.
 *
 * A call builds, once, the work items of every step it will run (a pattn_cuda_plan_t, in device
 * memory, cut for the kernel the registry picked); each step then launches that kernel on the
 * step's items against a K/V block described by a pattn_cuda_kv_t: the member's own rows of
 * qkv, or a received buffer of packed K/V rows (Hkv heads, never expanded). FINAL stores a
 * single-rank result; ACCUMULATE merges (forward) or adds (backward) a step's partial into fp32
 * accumulators, which pattn_cuda_cast_rows turns into the dtype at the end.
 */
#ifndef PATTN_CUDA_STEP_H
#define PATTN_CUDA_STEP_H

#include <cuda_runtime_api.h>

#include "backend.h"
#include "kernel_args.h"
#include "registry.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One member's work items of a call's steps, in device memory. */
typedef struct pattn_cuda_plan {
    const pattn_cuda_kernel_t *kernel; /* the kernel the items are cut for */
    pattn_item_t *dev;                 /* all steps' items (and turns, in the same allocation) */
    int64_t first[PATTN_MAX_RING + 1]; /* step t's items: [first[t], first[t + 1]) */
    int32_t uneven[PATTN_MAX_RING];    /* step t's items differ much in work (causal, varlen) */
    pattn_item_turn_t *turns;          /* a fused dQ in the deterministic mode: each item's turn
                                        * (pattn_items_turns), else NULL */
    int32_t counters[PATTN_MAX_RING];  /* turns: step t's counters per sample and query head */
} pattn_cuda_plan_t;

/* Builds member k's items for steps 0..steps-1 in the kernel's orientation and tile (each step's
 * sorted heaviest first, or, for a fused dQ in the deterministic mode, in tile order with their
 * turns; every_tile as pattn_items_build) and uploads them on stream. */
pattnResult_t pattn_cuda_plan_build(const pattn_problem_t *p, int k, int steps,
                                    const pattn_cuda_kernel_t *kernel, int every_tile,
                                    cudaStream_t stream, pattn_cuda_plan_t *plan);
/* Releases the items (stream-ordered: after the work queued on stream). Returns the CUDA status
 * without setting a message, so that a release after a failure keeps the failure's message. */
cudaError_t pattn_cuda_plan_free(pattn_cuda_plan_t *plan, cudaStream_t stream);

/* Member j's K/V block where it lies in j's qkv. */
pattn_cuda_kv_t pattn_cuda_kv_in_qkv(const pattn_problem_t *p, int j, const void *qkv);
/* Member j's K/V block in a packed buffer: row t holds K (Hkv D) then V (Hkv D) in the dtype. */
pattn_cuda_kv_t pattn_cuda_kv_packed(const pattn_problem_t *p, int j, const void *buf);

/* The forward's arguments of member k at step t (the softmax pass reuses them). */
pattn_cuda_fwd_args_t pattn_cuda_fwd_args(const pattn_problem_t *p, int k, int t, pattn_rng_t rng,
                                          const pattn_cuda_plan_t *plan, const void *qkv,
                                          const pattn_cuda_kv_t *kv, void *out, float *lse);

/* Forward step t of member k: its queries (in its qkv) against kv, the block of member
 * pattn_step_kv_member(k, t). FINAL: out (dtype, rows x Hq D) and lse; ACCUMULATE: out is the
 * fp32 accumulator and lse the running lse (both initialised by pattn_cuda_accumulate_init). */
pattnResult_t pattn_cuda_fwd_step(const pattn_problem_t *p, int k, int t, pattn_rng_t rng,
                                  const pattn_cuda_plan_t *plan, const void *qkv,
                                  const pattn_cuda_kv_t *kv, void *out, float *lse,
                                  pattn_cuda_mode_t mode, cudaStream_t stream);

/* The query side of a backward step (member k's arrays) and where its dQ goes. */
typedef struct pattn_cuda_bwd_queries {
    const void *qkv, *dout;
    const float *lse, *dsum; /* final lse; rowsum(dO * O) (pattn_cuda_dsum) */
    void *dq; /* FINAL: dtype; ACCUMULATE: fp32; fp32 added to in both modes when the dK/dV
               * kernel fuses dQ (its fused_dq) */
    int64_t dq_stride;
    int32_t *dq_counters; /* a plan with turns: pattn_cuda_dq_counter_bytes of workspace, which
                           * each step zeroes; NULL otherwise */
} pattn_cuda_bwd_queries_t;

/* The workspace a deterministic fused dQ's counters take for member k (0 for other kernels or
 * modes). */
size_t pattn_cuda_dq_counter_bytes(const pattn_problem_t *p, int k, const pattn_cuda_kernel_t *dkdv);

/* The key side: the K/V block and where its dK and dV go (same row layout as the block). */
typedef struct pattn_cuda_bwd_keys {
    pattn_cuda_kv_t kv;
    void *dk, *dv; /* FINAL: dtype; ACCUMULATE: fp32 */
    int64_t dkv_stride;
} pattn_cuda_bwd_keys_t;

/* Backward step t of member k: dK/dV of the block (dkdv plan) and dQ of member k's queries
 * (dq plan, or NULL when dkdv's kernel fuses dQ). FINAL stores them; ACCUMULATE adds them into
 * fp32 accumulators (a fused dQ is added into fp32 in both modes). */
pattnResult_t pattn_cuda_bwd_step(const pattn_problem_t *p, int k, int t, pattn_rng_t rng,
                                  const pattn_cuda_plan_t *dkdv, const pattn_cuda_plan_t *dq,
                                  const pattn_cuda_bwd_queries_t *queries,
                                  const pattn_cuda_bwd_keys_t *keys, pattn_cuda_mode_t mode,
                                  cudaStream_t stream);

/* ---------------------------------------------------------------- step_kernels.cu */
/* x[0..n) = value. */
pattnResult_t pattn_cuda_fill(float *x, int64_t n, float value, cudaStream_t stream);
/* x[0..n) += y[0..n) (the ring's dK/dV accumulator plus a step's part). */
pattnResult_t pattn_cuda_add(float *x, const float *y, int64_t n, cudaStream_t stream);
/* dst row r column c (dtype, stride dst_stride) = src row r column c (fp32), rounded to nearest
 * even; rows x cols. */
pattnResult_t pattn_cuda_cast_rows(pattnDtype_t dtype, const float *src, int64_t src_stride,
                                   void *dst, int64_t dst_stride, int64_t rows, int64_t cols,
                                   cudaStream_t stream);
/* The backward's D = rowsum(dO * O) of member k, in its lse layout. */
pattnResult_t pattn_cuda_dsum(const pattn_problem_t *p, int k, const void *out, const void *dout,
                              float *dsum, cudaStream_t stream);

/* ---------------------------------------------------------------- softmax_matrix.cu */
/* return_softmax of a FINAL forward: the normalised probabilities of the items' visible
 * elements (sign bit set where dropout drops them) into softmax (units, Hq, rows, cols), from
 * a->lse. Entries it does not write are left as they are (the caller zeroes the array). */
pattnResult_t pattn_cuda_softmax(const pattn_cuda_fwd_args_t *a, float *softmax, int64_t rows,
                                 int64_t cols, cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif /* PATTN_CUDA_STEP_H */
