/*
 * fwd_args.h: what the forward kernels take, shared by host C code and the CUDA kernels.
 *
 * A kernel launch is a list of work items. An item is one query tile of one unit (a sample or a
 * packed sequence): up to block_rows consecutive local rows with consecutive global positions,
 * and up to two key runs (core/plan.h), each with the global position of its first key, its
 * mask (full or causal with a shift) and its local rows. One CTA runs one (item, sample, query
 * head) and continues its online softmax over both key runs. Positions are global, so the
 * causal mask and the dropout counter are those of the whole sequence: the ring calls the same
 * kernel once per step with the K/V block it holds.
 *
 * Output modes: FINAL writes out (dtype) and softmax_lse; ACCUMULATE merges the item's partial
 * result into an fp32 accumulator and its lse in place (pattn_lse_merge semantics), then
 * pattn_cuda_finalize casts the accumulator to the dtype.
 */
#ifndef PATTN_CUDA_FWD_ARGS_H
#define PATTN_CUDA_FWD_ARGS_H

#include <stdint.h>

#include "parallel_attn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Items per launch: the list travels in the kernel's parameter block (at most 32 KB). */
#define PATTN_CUDA_ITEMS_PER_LAUNCH 384

typedef enum { PATTN_CUDA_FINAL = 0, PATTN_CUDA_ACCUMULATE = 1 } pattn_cuda_mode_t;

/* A run of keys: consecutive local rows with consecutive global positions. */
typedef struct pattn_cuda_run {
    int32_t row;    /* local row of the first key (within the sample, or the packed row) */
    int32_t pos;    /* its global position */
    int32_t len;
    int32_t shift;  /* causal: key visible iff kpos <= qpos + shift */
    int32_t causal; /* 0: every key of the run is visible */
} pattn_cuda_run_t;

typedef struct pattn_cuda_item {
    int32_t unit;     /* packed sequence (dropout's b, softmax's unit), or -1: the sample */
    int32_t sm_row0;  /* local row of the unit's first query token (return_softmax's row 0) */
    int32_t tile_pos; /* global position of the tile's row 0: a multiple of 16 */
    int32_t q_row;    /* valid rows: local row of the first one, */
    int32_t q_pos;    /* its global position (tile_pos <= q_pos), */
    int32_t q_len;    /* and how many (q_pos + q_len <= tile_pos + block_rows) */
    int32_t num_runs; /* 0, 1 or 2 */
    pattn_cuda_run_t runs[2];
} pattn_cuda_item_t;

typedef struct pattn_cuda_fwd_args {
    pattnDtype_t dtype;
    int32_t D;      /* head_dim */
    int32_t Hq;     /* query heads */
    int32_t r;      /* query head h reads KV head h / r */
    int32_t B;      /* samples (1 when packing) */
    /* Element d of head h of local row t of sample b: q[(b*q_sample_rows + t)*q_stride + h*D + d],
     * likewise k and v (KV heads) with kv_sample_rows and kv_stride. */
    const void *q, *k, *v;
    int64_t q_stride, q_sample_rows;
    int64_t kv_stride, kv_sample_rows;
    /* FINAL: dtype out; ACCUMULATE: fp32 accumulator. Row b*q_sample_rows + t, column h*D + d. */
    void *out;
    int64_t out_stride;
    /* lse[b*lse_sample_stride + h*lse_head_stride + t] (ACCUMULATE: the running lse). */
    float *lse;
    int64_t lse_sample_stride, lse_head_stride;
    int32_t mode; /* pattn_cuda_mode_t */
    float scale;  /* softmax scale */
    float scale_log2; /* scale * log2(e) */
    /* Dropout (FlashAttention-2's Philox mask, core/philox.h). */
    int32_t dropout;
    uint32_t keep_threshold;
    float keep_scale;
    uint64_t seed, offset;
} pattn_cuda_fwd_args_t;

/* One launch: the arguments and a chunk of items. CTA x runs item x % num_items, head
 * (x / num_items) % Hq, sample x / (num_items * Hq): the CTAs that run at the same time share
 * a head's K/V in L2, and each head's items go heaviest first. */
typedef struct pattn_cuda_fwd_launch {
    pattn_cuda_fwd_args_t a;
    int32_t num_items;
    pattn_cuda_item_t items[PATTN_CUDA_ITEMS_PER_LAUNCH];
} pattn_cuda_fwd_launch_t;

#ifdef __cplusplus
}
#endif

#endif /* PATTN_CUDA_FWD_ARGS_H */
