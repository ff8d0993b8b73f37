/*
 * registry.h: the registry of CUDA kernels, as data (BLIS style): a table of every compiled
 * variant (kernels.def) with what it runs, and the pick of one for a call. A combination that no
 * entry fits is unsupported with a message, never a wrong answer.
 *
 * PATTN_CUDA_KERNEL caps the families a pick may use, for comparing them: "tma" (the default:
 * all), "wgmma" (the Hopper kernels without warp specialisation, and below), "mma" (mma.sync and
 * general), "general" (the CUDA-core fp32 kernels only); any other value is an error.
 */
#ifndef PATTN_CUDA_REGISTRY_H
#define PATTN_CUDA_REGISTRY_H

#include <cuda_runtime_api.h>

#include "parallel_attn.h"
#include "problem.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    PATTN_CUDA_PASS_FWD = 0,  /* forward, query-major items */
    PATTN_CUDA_PASS_DKDV = 1, /* backward dK/dV, key-major items */
    PATTN_CUDA_PASS_DQ = 2    /* backward dQ, query-major items */
} pattn_cuda_pass_t;

typedef enum {
    PATTN_CUDA_FAMILY_GENERAL = 0, /* CUDA cores, fp32 arithmetic, any alignment */
    PATTN_CUDA_FAMILY_MMA = 1,     /* mma.sync tensor cores (sm_80+) */
    PATTN_CUDA_FAMILY_WGMMA = 2,   /* Hopper warpgroup MMA (sm_90a) */
    PATTN_CUDA_FAMILY_TMA = 3      /* Hopper warp-specialised: TMA, mbarriers, wgmma (sm_90a) */
} pattn_cuda_family_t;

/* Runs a launch: args is a pattn_cuda_fwd_args_t (FWD) or pattn_cuda_bwd_args_t, mode a
 * pattn_cuda_mode_t (the backward reads args->accumulate). Asynchronous on stream. */
typedef cudaError_t (*pattn_cuda_launch_fn)(const void *args, int mode, cudaStream_t stream);

typedef struct pattn_cuda_kernel {
    const char *name;
    pattn_cuda_pass_t pass;
    pattn_cuda_family_t family;
    int head_dim; /* the largest head dim it runs; 0: every head dim */
    int exact;    /* runs head_dim only */
    int rows;     /* the tile of its work items (queries, or keys for DKDV) */
    int no_dropout; /* FWD: runs problems without dropout only (slower with it: the entry
                     * after it runs those) */
    int causal_min_lq; /* FWD: runs causal problems only from this query length on (the
                        * rank's longest query piece, pattn_member_lq; 0: at every length) */
    int fused_dq; /* DKDV: adds dQ too (fp32 reductions), so no DQ pass runs */
    int dq_rows;  /* fused_dq: the query sub-tile of its reductions (pattn_items_turns' sub);
                   * with deterministic = 1 they add in that order, bit-identical run to run */
    pattn_cuda_launch_fn launch;
} pattn_cuda_kernel_t;

/* The table, in pick order. */
const pattn_cuda_kernel_t *pattn_cuda_kernels(int *count);

/* The forward's kernel for problem p (its dtype, head dim, mask and dropout); aligned: whether
 * every array of the call suits the tensor-core kernels' 16-byte loads. pattnUnsupported or
 * pattnInvalidArgument with a message when none may run it. */
pattnResult_t pattn_cuda_pick_forward(const pattn_problem_t *p, int aligned,
                                      const pattn_cuda_kernel_t **kernel);

/* The backward's kernels for p: dkdv, and dq, or NULL when dkdv fuses dQ (every backward
 * kernel runs both modes of pattnParams_t.deterministic). As pattn_cuda_pick_forward otherwise. */
pattnResult_t pattn_cuda_pick_backward(const pattn_problem_t *p, int aligned,
                                       const pattn_cuda_kernel_t **dkdv,
                                       const pattn_cuda_kernel_t **dq);

#define PATTN_KERNEL(family, D)                                                                    \
    cudaError_t pattn_cuda_##family##_d##D(const void *args, int mode, cudaStream_t stream);
#include "kernels.def"
#undef PATTN_KERNEL

#ifdef __cplusplus
}
#endif

#endif /* PATTN_CUDA_REGISTRY_H */
