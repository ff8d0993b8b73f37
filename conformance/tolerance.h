/*
 * tolerance.h: the one table of default tolerances per dtype (SPEC section 6), and the
 * per-case overrides (case.txt keys atol_out, rtol_out, atol_lse, atol_dqkv, rtol_dqkv).
 *
 * out, dqkv: |got - exp| <= atol + rtol * |exp|. lse: |got - exp| <= atol_lse, and -inf only
 * where -inf is expected. softmax: ||got| - |exp|| <= SOFTMAX_ATOL + rtol_out * |exp|, with the
 * sign bits (the dropout mask) and the zero entries (the attention mask) equal exactly, the
 * expected values taken as fp32 (the output's dtype) and magnitudes below FLT_MIN as zero
 * (flushed subnormals).
 * rng_state: exact.
 *
 * Beside the table, FlashAttention's own rule where a case carries its baselines (case.txt
 * naive_err_out, naive_err_dqkv: the max abs error of a naive same-dtype implementation against
 * the float64 oracle, written by tools/golden/make_cases.py, see tools/golden/naive.py):
 * max |got - exp| <= 2 x naive_err_out + noise for out, 3 x naive_err_dqkv + noise for dqkv,
 * noise being the dtype's rounding noise at the expected values (tolerance_dtype_noise). A
 * tensor passes only when both hold, so no tolerance is looser than that rule (SPEC section 6).
 */
#ifndef CONF_TOLERANCE_H
#define CONF_TOLERANCE_H

#include "parallel_attn.h"

#define CONF_SOFTMAX_ATOL 1e-5

#define CONF_RULE_FACTOR_OUT 2.0  /* FlashAttention: forward error <= 2x the naive one */
#define CONF_RULE_FACTOR_DQKV 3.0 /* gradients: 3x */

typedef struct conf_tolerance {
    double atol_out, rtol_out;
    double atol_lse;
    double atol_dqkv, rtol_dqkv;
    double naive_err_out, naive_err_dqkv; /* FlashAttention baselines; NaN: the case has none */
    pattnDtype_t dtype;                   /* whose rounding noise the rule adds */
} conf_tolerance_t;

/* The defaults of a case of this dtype and dropout probability (absolute parts scaled by
 * 1/(1-p), see tolerance.c). */
conf_tolerance_t tolerance_default(pattnDtype_t dtype, double p_dropout);

/* An override set with every field unset (NaN). */
conf_tolerance_t tolerance_unset(void);

/* base with every field of overrides that is set (not NaN) replacing it. */
conf_tolerance_t tolerance_apply(conf_tolerance_t base, const conf_tolerance_t *overrides);

/* The field of t that case.txt key names ("atol_out", ..., "naive_err_dqkv"), or NULL for
 * another key. */
double *tolerance_field(conf_tolerance_t *t, const char *key);

/* FlashAttention's dtype noise at one expected value e: 2 |rd(rd(e + 0.3) - 0.3) - rd(e)|, rd
 * rounding to dtype (its tests add the max over the tensor, `2 * (ref + 0.3 - 0.3 - ref)`);
 * 0 for a value that is not finite. */
double tolerance_rounding_noise(pattnDtype_t dtype, double expected);

#endif /* CONF_TOLERANCE_H */
