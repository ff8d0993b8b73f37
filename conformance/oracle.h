/*
 * oracle.h: attention of SPEC sections 1-5 computed from the SPEC alone, for a problem held in
 * memory (a --random draw, a pattn-stress configuration): every member's tokens listed with
 * their global positions (section 3's split formulas, written here again rather than taken from
 * core/plan.c), the causal mask on those positions, dropout at global positions (core/philox.h,
 * checked against FlashAttention-2 elsewhere), lse, and the backward's formulas.
 *
 * Two models:
 *   CONF_ORACLE_EXACT  float64 throughout: the expected arrays.
 *   CONF_ORACLE_NAIVE  FlashAttention's yardstick, the naive same-dtype attention of
 *                      tools/golden/naive.py (PyTorch's attention_ref with upcast=False): every
 *                      product and sum in float32, rounded to the dtype where PyTorch's
 *                      half-precision graph would round (qs = rd(q scale), s = rd(qs k^T),
 *                      p = rd(softmax(s)), vs = rd(v * f32(1 / (1 - p_drop))), out =
 *                      rd((p keep) vs); the backward by autograd through that graph, each query
 *                      head's dK and dV rounded, then summed over the r query heads of a KV head
 *                      in float32 and rounded again). Its error against the exact model is the
 *                      baseline of FlashAttention's 2x / 3x rule.
 */
#ifndef CONF_ORACLE_H
#define CONF_ORACLE_H

#include <stdint.h>

#include "parallel_attn.h"

typedef enum { CONF_ORACLE_EXACT, CONF_ORACLE_NAIVE } conf_oracle_model_t;

/* The largest head dimension the naive model takes (SPEC: multiples of 8 up to 256). */
#define CONF_ORACLE_MAX_D 256

typedef struct conf_oracle_member {
    int64_t rows;               /* qkv rows of this member */
    int64_t seq_len;            /* batched: tokens per sample */
    const int32_t *cu_q, *cu_k; /* packed: this member's (units + 1) cumulative lengths */
    const void *qkv;            /* rows x (Hq + 2 Hkv) D, problem dtype */
    const void *dout;           /* rows x Hq D (backward) */
    /* The forward's output as a run returned it (problem dtype), for the backward's
     * D = rowsum(dout * out); NULL: the model's own output (exact: float64, unrounded). */
    const void *fwd_out;
} conf_oracle_member_t;

typedef struct conf_oracle_problem {
    pattnDtype_t dtype;
    int64_t head_dim, group_query_ratio, num_kv_heads;
    int is_causal, packing, backward;
    int64_t units;              /* batched: samples; packed: sequences */
    double scale;               /* the softmax scale (as given: the exact model uses it in float64,
                                   the naive one rounded to float32, as PyTorch would) */
    double p_dropout;
    uint64_t seed, offset;      /* the generator before the call */
    pattnSplit_t split;
    int n;                      /* ring members (1: a single rank) */
    conf_oracle_member_t member[PATTN_MAX_RING];
} conf_oracle_problem_t;

/* Per member: out (rows x Hq D), lse ((units, Hq, seq_len) batched, (Hq, rows) packed; the
 * exact model only) and, for a backward, dqkv (rows x (Hq + 2 Hkv) D). */
typedef struct conf_oracle_result {
    double *out[PATTN_MAX_RING], *lse[PATTN_MAX_RING], *dqkv[PATTN_MAX_RING];
} conf_oracle_result_t;

/* Computes the model into res (allocated here; free with conf_oracle_free); 0, or -1 when out
 * of memory (or, for the naive model, head_dim > CONF_ORACLE_MAX_D). */
int conf_oracle_compute(const conf_oracle_problem_t *p, conf_oracle_model_t model,
                        conf_oracle_result_t *res);
void conf_oracle_free(conf_oracle_result_t *res);

#endif /* CONF_ORACLE_H */
