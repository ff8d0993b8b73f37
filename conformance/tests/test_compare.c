/*
 * test_compare.c: the per-tensor comparison rules (compare.h, tolerance.h) on synthetic
 * tensors with fresh random values: the bound atol + rtol|exp|, the worst index, the share of
 * the tolerance, elements left unwritten, -inf in lse, the softmax's sign and zero masks,
 * exact rng_state and shapes (the tolerance table itself: test_tolerance.c).
 */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compare.h"
#include "harness_util.h"

/* A got tensor and an expected float64 array of shape (a, b), values in [-2, 2]. */
typedef struct pair {
    conf_tensor_t got;
    npy_array_t exp;
} pair_t;

static pair_t make_pair(uint64_t *rng, int64_t a, int64_t b)
{
    pair_t p;
    memset(&p, 0, sizeof p);
    int64_t shape[2] = {a, b};
    conf_error_t err;
    cr_assert_eq(npy_alloc(&p.exp, NPY_F8, 2, shape, &err), 0);
    p.got.present = 1;
    p.got.ndim = 2;
    p.got.shape[0] = a;
    p.got.shape[1] = b;
    p.got.count = a * b;
    p.got.values = calloc((size_t)(a * b), sizeof(double));
    p.got.unwritten = calloc((size_t)(a * b), 1);
    cr_assert(p.got.values && p.got.unwritten);
    for (int64_t i = 0; i < a * b; ++i)
        p.got.values[i] = ((double *)p.exp.data)[i] = harness_uniform(rng, -2, 2);
    return p;
}

static void free_pair(pair_t *p)
{
    npy_free(&p->exp);
    free(p->got.values);
    free(p->got.unwritten);
}

static double *expected(pair_t *p) { return (double *)p->exp.data; }

Test(compare, errors_within_the_bound_pass_and_the_worst_is_found)
{
    uint64_t rng = harness_seed();
    conf_tolerance_t tol = tolerance_default(PATTN_FP16, 0.0);
    pair_t p = make_pair(&rng, 6, 11);
    double max_abs = 0, max_share = 0;
    for (int64_t i = 0; i < p.got.count; ++i) {
        double e = expected(&p)[i], bound = tol.atol_out + tol.rtol_out * fabs(e);
        double err = harness_uniform(&rng, -0.9, 0.9) * bound;
        p.got.values[i] = e + err;
        max_abs = fmax(max_abs, fabs(err));
        max_share = fmax(max_share, fabs(err) / bound);
    }
    conf_compare_t res;
    compare_tensor("out.0", CONF_OUT, &p.got, NULL, &p.exp, &tol, &res);
    cr_assert(res.pass, "within 0.9 of the bound must pass (share %g)", res.share);
    cr_assert_float_eq(res.max_abs, max_abs, 1e-15);
    cr_assert_float_eq(res.share, max_share, 1e-9);
    cr_assert_eq(res.atol, tol.atol_out);
    cr_assert_eq(res.rtol, tol.rtol_out);

    /* one element at 1.5x its bound: fails, and is the worst */
    int64_t bad = (int64_t)(harness_next(&rng) % (uint64_t)p.got.count);
    double e = expected(&p)[bad];
    p.got.values[bad] = e - 1.5 * (tol.atol_out + tol.rtol_out * fabs(e));
    compare_tensor("out.0", CONF_OUT, &p.got, NULL, &p.exp, &tol, &res);
    cr_assert_not(res.pass);
    cr_assert_eq(res.over_tolerance, 1);
    cr_assert_eq(res.worst, bad);
    cr_assert_float_eq(res.share, 1.5, 1e-9);
    char idx[64], want[64];
    snprintf(want, sizeof want, "[%lld,%lld]", (long long)(bad / 11), (long long)(bad % 11));
    cr_assert_str_eq(compare_worst_index(&res, idx, sizeof idx), want);
    cr_assert_eq(res.worst_expected, e);
    free_pair(&p);
}

Test(compare, elements_left_unwritten_fail_where_a_value_is_expected)
{
    uint64_t rng = harness_seed();
    conf_tolerance_t tol = tolerance_default(PATTN_FP32, 0.0);
    pair_t p = make_pair(&rng, 3, 5);
    int64_t hole = (int64_t)(harness_next(&rng) % 15);
    p.got.unwritten[hole] = 1;
    p.got.values[hole] = NAN;
    conf_compare_t res;
    compare_tensor("dqkv.1", CONF_DQKV, &p.got, NULL, &p.exp, &tol, &res);
    cr_assert_not(res.pass);
    cr_assert_eq(res.not_written, 1);
    cr_assert_eq(res.worst, hole);

    /* no expected array: only the not-written check */
    compare_tensor("dqkv.1", CONF_DQKV, &p.got, NULL, NULL, &tol, &res);
    cr_assert_not(res.pass);
    cr_assert_eq(res.checked, 0);
    cr_assert_eq(res.not_written, 1);
    p.got.unwritten[hole] = 0;
    p.got.values[hole] = 123.0; /* far off, but nothing is expected */
    compare_tensor("dqkv.1", CONF_DQKV, &p.got, NULL, NULL, &tol, &res);
    cr_assert(res.pass);
    free_pair(&p);
}

Test(compare, lse_minus_infinity_must_match_exactly)
{
    uint64_t rng = harness_seed();
    conf_tolerance_t tol = tolerance_default(PATTN_BF16, 0.0);
    pair_t p = make_pair(&rng, 2, 8);
    expected(&p)[3] = p.got.values[3] = -INFINITY;
    conf_compare_t res;
    compare_tensor("lse.0", CONF_LSE, &p.got, NULL, &p.exp, &tol, &res);
    cr_assert(res.pass, "-inf against -inf passes");
    cr_assert_eq(res.rtol, 0.0, "lse is absolute");

    p.got.values[3] = -1e30;
    compare_tensor("lse.0", CONF_LSE, &p.got, NULL, &p.exp, &tol, &res);
    cr_assert_not(res.pass);
    cr_assert_eq(res.nonfinite, 1);
    cr_assert_eq(res.worst, 3);

    p.got.values[3] = -INFINITY;
    p.got.values[9] = -INFINITY; /* expected finite */
    compare_tensor("lse.0", CONF_LSE, &p.got, NULL, &p.exp, &tol, &res);
    cr_assert_eq(res.nonfinite, 1);
    cr_assert_eq(res.worst, 9);

    p.got.values[9] = expected(&p)[9] + 0.5 * tol.atol_lse;
    p.got.values[10] = expected(&p)[10] + 2.0 * tol.atol_lse;
    compare_tensor("lse.0", CONF_LSE, &p.got, NULL, &p.exp, &tol, &res);
    cr_assert_eq(res.over_tolerance, 1);
    cr_assert_eq(res.worst, 10);
    free_pair(&p);
}

Test(compare, softmax_signs_and_zeros_are_exact)
{
    uint64_t rng = harness_seed();
    conf_tolerance_t tol = tolerance_default(PATTN_FP16, 0.0);
    pair_t p = make_pair(&rng, 4, 4);
    for (int64_t i = 0; i < 16; ++i) /* probabilities, some dropped (negative), some masked */
        p.got.values[i] = expected(&p)[i] = i % 5 == 0 ? 0.0 : expected(&p)[i] / 4;
    expected(&p)[7] = -1e-40; /* below fp32's smallest normal: a zero */
    p.got.values[7] = -0.0;
    conf_compare_t res;
    compare_tensor("softmax.0", CONF_SOFTMAX, &p.got, NULL, &p.exp, &tol, &res);
    cr_assert(res.pass, "identical signs and zeros pass");
    cr_assert_eq(res.atol, CONF_SOFTMAX_ATOL);

    int64_t kept = expected(&p)[1] > 0 ? 1 : 2;
    p.got.values[kept] = -p.got.values[kept]; /* same magnitude, other dropout decision */
    compare_tensor("softmax.0", CONF_SOFTMAX, &p.got, NULL, &p.exp, &tol, &res);
    cr_assert_not(res.pass);
    cr_assert_eq(res.sign_mismatch, 1);
    cr_assert_eq(res.over_tolerance, 0, "magnitudes are equal");
    cr_assert_eq(res.worst, kept);
    p.got.values[kept] = -p.got.values[kept];

    p.got.values[5] = 1e-6; /* leak into a masked entry, within the value tolerance */
    compare_tensor("softmax.0", CONF_SOFTMAX, &p.got, NULL, &p.exp, &tol, &res);
    cr_assert_not(res.pass);
    cr_assert_eq(res.mask_mismatch, 1);
    cr_assert_eq(res.over_tolerance, 0);
    cr_assert_eq(res.worst, 5);
    free_pair(&p);
}

Test(compare, rng_state_is_exact)
{
    uint64_t rng = harness_seed();
    conf_tolerance_t tol = tolerance_default(PATTN_FP32, 0.0);
    int64_t two = 2;
    npy_array_t exp;
    conf_error_t err;
    cr_assert_eq(npy_alloc(&exp, NPY_I8, 1, &two, &err), 0);
    int64_t state[2] = {(int64_t)harness_next(&rng), (int64_t)(harness_next(&rng) >> 8)};
    memcpy(exp.data, state, sizeof state);
    double values[2] = {(double)state[0], (double)state[1]};
    unsigned char unwritten[2] = {0, 0};
    conf_tensor_t got = {1, 1, {2}, 2, values, unwritten};
    conf_compare_t res;
    compare_tensor("rng_state.0", CONF_RNG_STATE, &got, state, &exp, &tol, &res);
    cr_assert(res.pass);
    int64_t off_by_one[2] = {state[0], state[1] + 1}; /* equal as doubles beyond 2^53 */
    compare_tensor("rng_state.0", CONF_RNG_STATE, &got, off_by_one, &exp, &tol, &res);
    cr_assert_not(res.pass);
    cr_assert_eq(res.worst, 1);
    npy_free(&exp);
}

Test(compare, shapes_must_agree_up_to_leading_ones)
{
    uint64_t rng = harness_seed();
    conf_tolerance_t tol = tolerance_default(PATTN_FP32, 0.0);
    pair_t p = make_pair(&rng, 4, 6);
    p.exp.ndim = 3; /* (1, 4, 6): the same data */
    p.exp.shape[0] = 1;
    p.exp.shape[1] = 4;
    p.exp.shape[2] = 6;
    conf_compare_t res;
    compare_tensor("lse.0", CONF_LSE, &p.got, NULL, &p.exp, &tol, &res);
    cr_assert(res.pass, "%s", res.problem);
    p.exp.ndim = 2; /* (6, 4) */
    p.exp.shape[0] = 6;
    p.exp.shape[1] = 4;
    compare_tensor("lse.0", CONF_LSE, &p.got, NULL, &p.exp, &tol, &res);
    cr_assert_not(res.pass);
    cr_assert_not_null(strstr(res.problem, "lse.0.npy has shape (6, 4)"), "%s", res.problem);
    free_pair(&p);
}
