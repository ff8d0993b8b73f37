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
 */
#ifndef CONF_TOLERANCE_H
#define CONF_TOLERANCE_H

#include "parallel_attn.h"

#define CONF_SOFTMAX_ATOL 1e-5

typedef struct conf_tolerance {
    double atol_out, rtol_out;
    double atol_lse;
    double atol_dqkv, rtol_dqkv;
} conf_tolerance_t;

/* The defaults of a case of this dtype and dropout probability (absolute parts scaled by
 * 1/(1-p), see tolerance.c). */
conf_tolerance_t tolerance_default(pattnDtype_t dtype, double p_dropout);

/* An override set with every field unset (NaN). */
conf_tolerance_t tolerance_unset(void);

/* base with every field of overrides that is set (not NaN) replacing it. */
conf_tolerance_t tolerance_apply(conf_tolerance_t base, const conf_tolerance_t *overrides);

/* The field of t that case.txt key names ("atol_out", ...), or NULL for another key. */
double *tolerance_field(conf_tolerance_t *t, const char *key);

#endif /* CONF_TOLERANCE_H */
