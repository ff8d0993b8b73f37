/*
 * compare.h: comparing what a backend computed against a case's expected arrays, tensor by
 * tensor, with the rules of tolerance.h. Every output is also checked for elements the
 * backend never wrote (the NaN poison survived): "not written" is a failure wherever the
 * expected value is finite, and for outputs the case does not expect, everywhere. out and dqkv
 * are also held to FlashAttention's rule where the case carries its baselines.
 */
#ifndef CONF_COMPARE_H
#define CONF_COMPARE_H

#include <stdint.h>

#include "case.h"
#include "run.h"
#include "tolerance.h"

typedef struct conf_compare {
    char tensor[48]; /* "out.0" */
    int checked;     /* 0: no expected array, only the not-written check ran */
    int pass;
    char problem[512]; /* why it failed beyond the numbers (shape, missing output), or "" */
    int64_t count;
    double atol, rtol; /* the bound used: atol + rtol * |expected| */
    double max_abs, max_rel; /* max |got - exp| and max |got - exp| / |exp| (exp != 0) */
    double share;            /* max |got - exp| / (atol + rtol |exp|), or max_abs over the
                                rule's limit where that is larger; 1 is the limit */
    int ndim;
    int64_t shape[4];
    int64_t worst; /* flat index of the first problem element, else of the largest share */
    double worst_got, worst_expected;
    int64_t over_tolerance; /* elements beyond the bound (rng_state: unequal entries) */
    int64_t nonfinite;      /* inf/NaN where the other side differs */
    int64_t not_written;    /* poison left where a finite value was expected */
    int64_t sign_mismatch;  /* softmax: dropout mask (sign bit) differs */
    int64_t mask_mismatch;  /* softmax: exactly-zero (masked) entries differ */
    /* FlashAttention's rule (tolerance.h), NaN where the case has no baseline for the tensor:
     * max_abs <= rule_factor x rule_naive + rule_noise = rule_limit. */
    double rule_factor, rule_naive, rule_noise, rule_limit;
    int rule_broken; /* max_abs > rule_limit: a failure even within the table's bound */
} conf_compare_t;

/* Compares one output of pipeline p. expected may be NULL (only the not-written check). */
void compare_tensor(const char *label, conf_output_t which, const conf_tensor_t *got,
                    const int64_t *got_rng_state, const npy_array_t *expected,
                    const conf_tolerance_t *tol, conf_compare_t *res);

/* Compares every output of a successful (or forward_only) run, every present pipeline in
 * order, against the case. *results is malloc'd; returns -1 only when out of memory. */
int compare_run(const conf_case_t *c, const conf_run_t *run, const conf_tolerance_t *tol,
                conf_compare_t **results, int *count);

/* "[1, 3, 17]": the worst element's multi-index, or "-" when there is none. */
const char *compare_worst_index(const conf_compare_t *res, char *buf, size_t size);

#endif /* CONF_COMPARE_H */
