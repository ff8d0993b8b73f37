/*
 * compare.c: element-wise comparison of a backend's outputs with the expected arrays
 * (compare.h). Rules per output (tolerance.h): out/dqkv atol + rtol|exp|; lse atol only with
 * -inf exact; softmax on magnitudes plus exact sign bits and exact zeros; rng_state exact;
 * and, for out and dqkv where the case has a naive baseline, FlashAttention's rule.
 */
#include "compare.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Drops leading dimensions of size 1, so (1, Hq, T) and (Hq, T) compare equal. */
static int squeeze(int ndim, const int64_t *shape, int64_t *out)
{
    int first = 0;
    while (first < ndim - 1 && shape[first] == 1)
        ++first;
    for (int d = first; d < ndim; ++d)
        out[d - first] = shape[d];
    return ndim - first;
}

static int same_shape(const conf_tensor_t *got, const npy_array_t *exp)
{
    int64_t a[NPY_MAX_DIMS], b[NPY_MAX_DIMS];
    int na = squeeze(got->ndim, got->shape, a), nb = squeeze(exp->ndim, exp->shape, b);
    return na == nb && memcmp(a, b, (size_t)na * sizeof *a) == 0;
}

static void note_problem(conf_compare_t *res, int64_t i, double got, double exp, int *seen)
{
    if (!*seen) {
        *seen = 1;
        res->worst = i;
        res->worst_got = got;
        res->worst_expected = exp;
    }
}

/* Zero for the softmax's mask comparison: fp32 flushes results below its smallest normal
 * number to zero on GPUs (and in the reference's exp), so those count as zero too. */
static int is_zero(double v) { return fabs(v) < FLT_MIN; }

/* Numbers of a float output against its expected array. */
static void compare_values(conf_output_t which, const conf_tensor_t *got,
                           const npy_array_t *exp, pattnDtype_t dtype, conf_compare_t *res)
{
    int softmax = which == CONF_SOFTMAX, problem_seen = 0;
    double noise = 0;
    int64_t top = -1; /* the element with the largest share of the tolerance */
    for (int64_t i = 0; i < got->count; ++i) {
        double g = got->values[i], e = npy_get_f64(exp, i);
        if (softmax) /* an fp32 output: a float64 expectation below fp32's range is a zero */
            e = (float)e;
        if (got->unwritten[i]) {
            if (!isnan(e)) {
                ++res->not_written;
                note_problem(res, i, g, e, &problem_seen);
            }
            continue;
        }
        if (!isfinite(g) || !isfinite(e)) {
            if (!((isnan(g) && isnan(e)) || g == e)) {
                ++res->nonfinite;
                note_problem(res, i, g, e, &problem_seen);
            }
            continue;
        }
        if (softmax) {
            if (signbit(g) != signbit(e))
                ++res->sign_mismatch;
            int zero_mismatch = is_zero(g) != is_zero(e);
            if (zero_mismatch)
                ++res->mask_mismatch;
            if (signbit(g) != signbit(e) || zero_mismatch)
                note_problem(res, i, g, e, &problem_seen);
            g = fabs(g);
            e = fabs(e);
        }
        double err = fabs(g - e), bound = res->atol + res->rtol * fabs(e);
        if (!isnan(res->rule_limit))
            noise = fmax(noise, tolerance_rounding_noise(dtype, e));
        double share = bound > 0 ? err / bound : (err > 0 ? INFINITY : 0);
        if (share > 1)
            ++res->over_tolerance;
        if (err > res->max_abs)
            res->max_abs = err;
        if (e != 0 && err / fabs(e) > res->max_rel)
            res->max_rel = err / fabs(e);
        if (top < 0 || share > res->share) {
            res->share = share;
            top = i;
        }
    }
    if (!isnan(res->rule_limit)) {
        res->rule_noise = noise;
        res->rule_limit = res->rule_factor * res->rule_naive + noise;
        res->rule_broken = res->max_abs > res->rule_limit;
        /* The share reported is that of the binding limit: the rule's where it is the tighter. */
        double rule_share = res->rule_limit > 0 ? res->max_abs / res->rule_limit
                                                : (res->max_abs > 0 ? INFINITY : 0);
        res->share = fmax(res->share, rule_share);
    }
    if (!problem_seen && top >= 0) {
        res->worst = top;
        res->worst_got = got->values[top];
        res->worst_expected = softmax ? (float)npy_get_f64(exp, top) : npy_get_f64(exp, top);
    }
}

static void compare_rng_state(const conf_tensor_t *got, const int64_t *rng,
                              const npy_array_t *exp, conf_compare_t *res)
{
    int seen = 0;
    for (int64_t i = 0; i < got->count; ++i) {
        int64_t e = npy_get_i64(exp, i);
        if (got->unwritten[i]) {
            ++res->not_written;
            note_problem(res, i, got->values[i], (double)e, &seen);
        } else if (rng[i] != e) {
            ++res->over_tolerance;
            double diff = fabs((double)rng[i] - (double)e);
            res->max_abs = diff > res->max_abs ? diff : res->max_abs;
            res->share = INFINITY;
            note_problem(res, i, (double)rng[i], (double)e, &seen);
        }
    }
}

/* Sets the rule's factor and baseline; rule_limit is NaN when the rule does not apply. */
static void rule_for(double factor, double naive, conf_compare_t *res)
{
    res->rule_factor = factor;
    res->rule_naive = naive;
    res->rule_limit = isnan(naive) ? NAN : factor * naive;
}

static void bounds_for(conf_output_t which, const conf_tolerance_t *tol, conf_compare_t *res)
{
    res->rule_factor = res->rule_naive = res->rule_noise = res->rule_limit = NAN;
    switch (which) {
    case CONF_OUT:
        res->atol = tol->atol_out;
        res->rtol = tol->rtol_out;
        rule_for(CONF_RULE_FACTOR_OUT, tol->naive_err_out, res);
        break;
    case CONF_LSE:
        res->atol = tol->atol_lse;
        break;
    case CONF_SOFTMAX:
        res->atol = CONF_SOFTMAX_ATOL;
        res->rtol = tol->rtol_out;
        break;
    case CONF_DQKV:
        res->atol = tol->atol_dqkv;
        res->rtol = tol->rtol_dqkv;
        rule_for(CONF_RULE_FACTOR_DQKV, tol->naive_err_dqkv, res);
        break;
    default: /* rng_state: exact */
        break;
    }
}

void compare_tensor(const char *label, conf_output_t which, const conf_tensor_t *got,
                    const int64_t *got_rng_state, const npy_array_t *expected,
                    const conf_tolerance_t *tol, conf_compare_t *res)
{
    memset(res, 0, sizeof *res);
    snprintf(res->tensor, sizeof res->tensor, "%s", label);
    res->worst = -1;
    res->checked = expected != NULL;
    res->count = got->count;
    res->ndim = got->ndim;
    memcpy(res->shape, got->shape, sizeof res->shape);
    bounds_for(which, tol, res);
    if (!expected)
        res->rule_limit = NAN;
    char a[128], b[128];
    if (!expected) {
        int seen = 0;
        for (int64_t i = 0; i < got->count; ++i)
            if (got->unwritten[i]) {
                ++res->not_written;
                note_problem(res, i, got->values[i], NAN, &seen);
            }
    } else if (!same_shape(got, expected)) {
        snprintf(res->problem, sizeof res->problem, "%s.npy has shape %s, the backend computed %s",
                 label, npy_format_shape(expected->ndim, expected->shape, a, sizeof a),
                 npy_format_shape(got->ndim, got->shape, b, sizeof b));
    } else if (which == CONF_RNG_STATE) {
        compare_rng_state(got, got_rng_state, expected, res);
    } else {
        compare_values(which, got, expected, tol->dtype, res);
    }
    res->pass = !res->problem[0] && !res->over_tolerance && !res->nonfinite && !res->not_written &&
                !res->sign_mismatch && !res->mask_mismatch && !res->rule_broken;
}

static int add_result(conf_compare_t **results, int *count, int *cap)
{
    if (*count == *cap) {
        int grown_cap = *cap ? 2 * *cap : 8;
        conf_compare_t *grown = realloc(*results, (size_t)grown_cap * sizeof *grown);
        if (!grown)
            return -1;
        *results = grown;
        *cap = grown_cap;
    }
    ++*count;
    return 0;
}

int compare_run(const conf_case_t *c, const conf_run_t *run, const conf_tolerance_t *tol,
                conf_compare_t **results, int *count)
{
    int cap = 0;
    *results = NULL;
    *count = 0;
    for (int p = 0; p < c->cfg.num_pipelines; ++p) {
        if (!c->pipes[p].present)
            continue;
        const conf_outputs_t *out = &run->outputs[p];
        for (int w = 0; w < CONF_NUM_OUTPUTS; ++w) {
            const npy_array_t *exp = &c->pipes[p].expected[w];
            const conf_tensor_t *got = &out->tensor[w];
            if (!got->present && (!exp->data || run->forward_only))
                continue;
            if (add_result(results, count, &cap)) {
                free(*results);
                *results = NULL;
                return -1;
            }
            conf_compare_t *res = &(*results)[*count - 1];
            char label[48];
            snprintf(label, sizeof label, "%s.%d", conf_output_name((conf_output_t)w), p);
            if (!got->present) {
                memset(res, 0, sizeof *res);
                snprintf(res->tensor, sizeof res->tensor, "%s", label);
                res->rule_factor = res->rule_naive = res->rule_noise = res->rule_limit = NAN;
                res->checked = 1;
                res->worst = -1;
                snprintf(res->problem, sizeof res->problem, "the case has %s.npy but the run "
                         "produced no %s (a backend: check backward / return_softmax in "
                         "case.txt; --outputs: the file is missing)", label, label);
                continue;
            }
            compare_tensor(label, (conf_output_t)w, got, out->rng_state,
                           exp->data ? exp : NULL, tol, res);
        }
    }
    return 0;
}

const char *compare_worst_index(const conf_compare_t *res, char *buf, size_t size)
{
    if (res->worst < 0) {
        snprintf(buf, size, "-");
        return buf;
    }
    return npy_format_index(res->ndim, res->shape, res->worst, buf, size);
}
