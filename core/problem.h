/*
 * problem.h: the validated form of a call, shared by every backend.
 *
 * pattn_problem_build() checks a pattnParams_t (SPEC sections 1-5) and derives everything the
 * executors need: head counts, batch, the active ring (members in ring order with their local
 * lengths), and for packing the per-member, per-sequence piece lengths. Backends never look at
 * pattnParams_t directly; they read a pattn_problem_t.
 */
#ifndef PATTN_CORE_PROBLEM_H
#define PATTN_CORE_PROBLEM_H

#include "parallel_attn.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pattn_problem {
    pattnDtype_t dtype;
    int64_t D;          /* head_dim */
    int64_t r;          /* group_query_ratio */
    int64_t Hq, Hkv;    /* query and KV heads */
    int64_t qkv_cols;   /* (Hq + 2 Hkv) D */
    int64_t out_cols;   /* Hq D */
    int64_t B;          /* samples (1 when packing) */
    int packing;
    int P;              /* packed sequences (0 when not packing) */
    int is_causal;
    int return_softmax;
    int deterministic;
    float scale;        /* effective softmax scale */
    double p_dropout;
    uint8_t keep_threshold; /* a dropout byte <= this is kept: floor((1 - p) * 255) */
    float keep_scale;       /* 1 / (1 - p) */

    /* The ring of the calling pipeline under the active strategy. */
    int n;                  /* ring size (1 = no context parallelism) */
    int me;                 /* the caller's ring index */
    int pipelines[PATTN_MAX_RING]; /* pipeline of each member, in ring order */
    int64_t L[PATTN_MAX_RING];     /* local length of each member (packed: local token count) */
    int64_t rows[PATTN_MAX_RING];  /* qkv rows of each member: B * L */
    pattnSplit_t split;

    /* Packing: cu_q[k] / cu_k[k] point at member k's P + 1 cumulative lengths (host memory).
     * Without a ring cu_q[0] and cu_k[0] may differ; with a ring they are equal. */
    const int32_t *cu_q[PATTN_MAX_RING];
    const int32_t *cu_k[PATTN_MAX_RING];
    int64_t max_seqlen_q, max_seqlen_k;

    /* return_softmax geometry: (B or P, Hq, Lq_max, Nk_max). */
    int64_t sm_lq, sm_nk;
} pattn_problem_t;

/* Checks params and fills prob. On failure returns the status with the message set
 * (pattnGetLastError), naming the parameter, its value and what was expected. */
pattnResult_t pattn_problem_build(const pattnParams_t *params, pattn_problem_t *prob);

/* Number of (sample or packed sequence) units: B, or P when packing. */
static inline int64_t pattn_num_units(const pattn_problem_t *p) { return p->packing ? p->P : p->B; }

/* Lq_max of member k: its local length, or when packing its longest query piece of a sequence. */
static inline int64_t pattn_member_lq(const pattn_problem_t *p, int k)
{
    if (!p->packing)
        return p->L[k];
    int64_t lq = 0;
    for (int u = 0; u < p->P; ++u)
        if (p->cu_q[k][u + 1] - p->cu_q[k][u] > lq)
            lq = p->cu_q[k][u + 1] - p->cu_q[k][u];
    return lq;
}

/* Elements of member k's lse array: B * Hq * L, or Hq * T when packing. */
static inline int64_t pattn_lse_elems(const pattn_problem_t *p, int k) { return p->Hq * p->rows[k]; }

/* Rows of one sample of member k in its qkv-like arrays: L, or all rows when packing (B = 1). */
static inline int64_t pattn_sample_rows(const pattn_problem_t *p, int k)
{
    return p->packing ? p->rows[k] : p->L[k];
}

/* Member k's lse layout: element (unit or sample u, head h, local token t) sits at
 * u * sample_stride + h * head_stride + t ((B, Hq, L), or (Hq, T) when packing). */
static inline void pattn_lse_strides(const pattn_problem_t *p, int k, int64_t *sample_stride,
                                     int64_t *head_stride)
{
    *sample_stride = p->packing ? 0 : p->Hq * p->L[k];
    *head_stride = p->packing ? p->rows[k] : p->L[k];
}

/* Index into member k's lse of (unit u, head h, local token t of that unit). For packing, t is
 * the local row (token) index; u is unused. */
static inline int64_t pattn_lse_index(const pattn_problem_t *p, int k, int64_t u, int64_t h,
                                      int64_t t)
{
    int64_t ss, hs;
    pattn_lse_strides(p, k, &ss, &hs);
    return u * ss + h * hs + t;
}

/* Elements of member k's return_softmax array: (B or P, Hq, Lq_max(k), Nk_max). */
static inline int64_t pattn_softmax_elems(const pattn_problem_t *p, int k)
{
    return pattn_num_units(p) * p->Hq * pattn_member_lq(p, k) * p->sm_nk;
}

#ifdef __cplusplus
}
#endif

#endif /* PATTN_CORE_PROBLEM_H */
