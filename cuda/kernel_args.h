/*
 * kernel_args.h: what the CUDA kernels take, shared by the host C code and the kernels.
 *
 * A launch runs a list of work items (core/items.h) that lives in device memory: CTA x runs item
 * x % num_items, head (x / num_items) % heads, sample x / (num_items * heads), so the CTAs that
 * run at the same time share a head's K/V in L2, and the items go heaviest first. Positions are
 * global, so masks and dropout counters are those of the whole sequence: a ring step is the same
 * launch against the K/V block the member holds, described by a pattn_cuda_kv_t.
 *
 * Forward (query-major items, heads = Hq): FINAL writes out (dtype) and softmax_lse; ACCUMULATE
 * merges each item's partial into an fp32 accumulator and its lse in place (core/lse_merge.h).
 * Backward: dK/dV (key-major items, heads = Hkv: a CTA loops over the r query heads of its KV
 * head) and dQ (query-major items, heads = Hq); FINAL stores the gradients in the dtype,
 * ACCUMULATE adds them into fp32 accumulators.
 */
#ifndef PATTN_CUDA_KERNEL_ARGS_H
#define PATTN_CUDA_KERNEL_ARGS_H

#include <stdint.h>

#include "items.h"
#include "parallel_attn.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { PATTN_CUDA_FINAL = 0, PATTN_CUDA_ACCUMULATE = 1 } pattn_cuda_mode_t;

/* A K/V block: element d of KV head g of local row t of sample b is
 * k[(b * sample_rows + t) * stride + g * D + d], likewise v. */
typedef struct pattn_cuda_kv {
    const void *k, *v;
    int64_t stride, sample_rows;
} pattn_cuda_kv_t;

/* FlashAttention-2's dropout (core/philox.h). */
typedef struct pattn_cuda_dropout {
    int32_t on;
    uint32_t keep_threshold; /* a byte <= this is kept */
    float keep_scale;        /* 1 / (1 - p); 1 without dropout */
    uint64_t seed, offset;
} pattn_cuda_dropout_t;

/* The side of the calling member: element d of head h of its local row t of sample b is
 * at base[(b * sample_rows + t) * stride + h * D + d]; lse-layout arrays at
 * [b * lse_sample_stride + h * lse_head_stride + t]. */
typedef struct pattn_cuda_fwd_args {
    pattnDtype_t dtype;
    int32_t D, Hq, r, B;
    const void *q;
    int64_t q_stride, sample_rows;
    pattn_cuda_kv_t kv;
    void *out; /* FINAL: dtype; ACCUMULATE: fp32 */
    int64_t out_stride;
    float *lse; /* ACCUMULATE: the running lse */
    int64_t lse_sample_stride, lse_head_stride;
    float scale, scale_log2; /* softmax scale, and times log2(e) */
    pattn_cuda_dropout_t drop;
    const pattn_item_t *items; /* device memory */
    int32_t num_items;
    int32_t uneven; /* the items differ in work: a persistent kernel deals them heaviest first */
} pattn_cuda_fwd_args_t;

typedef struct pattn_cuda_bwd_args {
    pattnDtype_t dtype;
    int32_t D, Hq, r, B;
    const void *q, *dout; /* q with q_stride, dout with dout_stride; the member's sample_rows */
    int64_t q_stride, dout_stride, sample_rows;
    const float *lse, *dsum; /* the final lse; rowsum(dO * O), both in the lse layout */
    int64_t lse_sample_stride, lse_head_stride;
    pattn_cuda_kv_t kv;
    void *dq; /* dQ at dq[(b * sample_rows + t) * dq_stride + h * D + d] */
    int64_t dq_stride;
    void *dk, *dv; /* dK, dV at [(b * kv.sample_rows + t) * dkv_stride + g * D + d] */
    int64_t dkv_stride;
    int32_t accumulate; /* pattn_cuda_mode_t: FINAL stores the dtype, ACCUMULATE adds fp32 */
    float scale, scale_log2;
    pattn_cuda_dropout_t drop;
    const pattn_item_t *items; /* device memory */
    int32_t num_items;
    const pattn_item_turn_t *turns; /* a fused dQ in the deterministic mode: each item's turn */
    int32_t *dq_counters;           /* turns: counters zeroed, (b Hq + h) counters + index */
    int32_t counters;
} pattn_cuda_bwd_args_t;

#ifdef __cplusplus
}
#endif

#endif /* PATTN_CUDA_KERNEL_ARGS_H */
