/*
 * test_canary.c: the harness's own safeguards, each switched on by a backend that misbehaves
 * (canary_backend.h) and each required to catch it:
 *   - outputs are poisoned before the call, so an element the backend never wrote fails even
 *     where the expected value is 0 (a zero-filled buffer would pass it);
 *   - the generator must advance by exactly units * Hq * 32 (0 without dropout);
 *   - the softmax's sign bits (dropout decisions) are compared exactly;
 *   - rng_state must be written.
 * Every damage is checked on a golden case that passes when the canary does nothing.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canary_backend.h"
#include "case.h"
#include "compare.h"
#include "run.h"

#ifndef PATTN_SOURCE_DIR
#define PATTN_SOURCE_DIR "."
#endif

static conf_case_t load(const char *name)
{
    const char *env = getenv("PATTN_DATA_DIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", env && *env ? env : PATTN_SOURCE_DIR "/data", name);
    conf_case_t c;
    conf_error_t err;
    cr_assert_eq(case_load(dir, name, &c, &err), 0, "%s", err.text);
    return c;
}

/* The first element of pipeline p's expected array `which` for which keep(value) holds. */
static int64_t find_expected(const conf_case_t *c, int p, conf_output_t which,
                             int (*keep)(double))
{
    const npy_array_t *a = &c->pipes[p].expected[which];
    cr_assert_not_null(a->data, "%s has no %s.%d.npy", c->name, conf_output_name(which), p);
    for (int64_t i = 0; i < a->count; ++i)
        if (keep(npy_get_f64(a, i)))
            return i;
    cr_assert_fail("%s: %s.%d.npy has no element of the kind this test needs", c->name,
                   conf_output_name(which), p);
    return -1;
}

static int is_plus_zero(double v) { return v == 0 && !signbit(v); }
static int is_minus_infinity(double v) { return isinf(v) && v < 0; }
static int is_kept_probability(double v) { return v > 0; }

/* What the harness concluded about one run of a case. */
typedef struct verdict {
    conf_run_t run;
    conf_compare_t *tensors;
    int num_tensors;
} verdict_t;

static verdict_t run_with(const conf_case_t *c, canary_damage_t damage, int member,
                          int64_t element)
{
    verdict_t v = {0};
    canary_arm(damage, member, element);
    run_case(c, PATTN_BACKEND_REFERENCE, &v.run);
    canary_disarm();
    if (v.run.status == CONF_RUN_OK) {
        conf_tolerance_t tol =
            tolerance_apply(tolerance_default(c->cfg.dtype, c->cfg.p_dropout), &c->cfg.tolerance);
        cr_assert_eq(compare_run(c, &v.run, &tol, &v.tensors, &v.num_tensors), 0);
    }
    return v;
}

static void verdict_free(verdict_t *v)
{
    free(v->tensors);
    run_free(&v->run);
}

static const conf_compare_t *tensor(const verdict_t *v, const char *label)
{
    for (int i = 0; i < v->num_tensors; ++i)
        if (!strcmp(v->tensors[i].tensor, label))
            return &v->tensors[i];
    cr_assert_fail("no tensor %s in the comparison", label);
    return NULL;
}

static int failing_tensors(const verdict_t *v)
{
    int n = 0;
    for (int i = 0; i < v->num_tensors; ++i)
        n += !v->tensors[i].pass;
    return n;
}

/* The case passes untouched: every later failure is the canary's doing. */
static void expect_clean_pass(const conf_case_t *c)
{
    verdict_t v = run_with(c, CANARY_NONE, 0, 0);
    cr_assert_eq(v.run.status, CONF_RUN_OK, "%s: %s", c->name, v.run.message);
    cr_assert_eq(failing_tensors(&v), 0, "%s fails without any damage", c->name);
    verdict_free(&v);
}

/* Leaves one element unwritten and checks that exactly it is reported as not written. */
static void expect_unwritten_caught(const char *name, int member, conf_output_t which,
                                    canary_damage_t damage, int (*kind)(double))
{
    conf_case_t c = load(name);
    expect_clean_pass(&c);
    int ids[PATTN_MAX_RING];
    case_ring_members(&c.cfg, 0, ids);
    int p = ids[member];
    int64_t at = which == CONF_RNG_STATE ? 0 : find_expected(&c, p, which, kind);
    verdict_t v = run_with(&c, damage, member, at);
    cr_assert_eq(canary_applied(), 1, "the damage was not applied");
    cr_assert_eq(v.run.status, CONF_RUN_OK, "%s", v.run.message);
    char label[48];
    snprintf(label, sizeof label, "%s.%d", conf_output_name(which), p);
    const conf_compare_t *t = tensor(&v, label);
    cr_assert_not(t->pass, "%s: element %lld left unwritten, yet %s passed", name,
                  (long long)at, label);
    cr_assert_eq(t->not_written, which == CONF_RNG_STATE ? 2 : 1,
                 "%s: %s has %lld elements reported not written (poison lost?)", name, label,
                 (long long)t->not_written);
    cr_assert_eq(t->worst, at, "%s: the worst element of %s is %lld, the skipped one %lld", name,
                 label, (long long)t->worst, (long long)at);
    cr_assert_eq(failing_tensors(&v), 1, "only %s should fail", label);
    verdict_free(&v);
    case_free(&c);
}

Test(canary, output_left_unwritten_where_zero_is_expected)
{
    /* a packed row that sees no key: expected out 0, which a zero-filled buffer would match */
    expect_unwritten_caught("packed_diff_causal_fp32", 0, CONF_OUT, CANARY_SKIP_OUT, is_plus_zero);
}

Test(canary, lse_left_unwritten_where_minus_infinity_is_expected)
{
    expect_unwritten_caught("packed_diff_causal_fp32", 0, CONF_LSE, CANARY_SKIP_LSE,
                            is_minus_infinity);
}

Test(canary, softmax_left_unwritten_where_masked)
{
    expect_unwritten_caught("softmax_nodrop_fp32", 0, CONF_SOFTMAX, CANARY_SKIP_SOFTMAX,
                            is_plus_zero);
}

Test(canary, ring_member_softmax_left_unwritten)
{
    expect_unwritten_caught("ring_softmax_sym_fp32", 1, CONF_SOFTMAX, CANARY_SKIP_SOFTMAX,
                            is_plus_zero);
}

Test(canary, rng_state_left_unwritten)
{
    expect_unwritten_caught("mha_causal_fp32", 0, CONF_RNG_STATE, CANARY_SKIP_RNG_STATE, NULL);
}

/* The generator advanced by 32 too much: the run must fail with the generator named. */
static void expect_generator_caught(const char *name, int member)
{
    conf_case_t c = load(name);
    expect_clean_pass(&c);
    verdict_t v = run_with(&c, CANARY_ADVANCE_WRONG, member, 0);
    cr_assert_eq(canary_applied(), 1);
    cr_assert_eq(v.run.status, CONF_RUN_FAILED,
                 "%s: a generator advanced wrongly was not noticed", name);
    cr_assert_not_null(strstr(v.run.message, "generator of pipeline"), "%s", v.run.message);
    verdict_free(&v);
    case_free(&c);
}

Test(canary, generator_advanced_wrongly_with_dropout)
{
    expect_generator_caught("dropout017_causal_fp16", 0);
}

Test(canary, generator_advanced_without_dropout) { expect_generator_caught("mha_causal_fp32", 0); }

Test(canary, ring_member_generator_advanced_wrongly)
{
    expect_generator_caught("ring_dropout_sym_fp16", 2);
}

Test(canary, dropout_sign_flipped_in_the_softmax)
{
    conf_case_t c = load("softmax_dropout_fp16");
    expect_clean_pass(&c);
    int64_t at = find_expected(&c, 0, CONF_SOFTMAX, is_kept_probability);
    verdict_t v = run_with(&c, CANARY_FLIP_SIGN, 0, at);
    cr_assert_eq(canary_applied(), 1);
    const conf_compare_t *t = tensor(&v, "softmax.0");
    cr_assert_not(t->pass, "a kept probability reported as dropped passed");
    cr_assert_eq(t->sign_mismatch, 1);
    cr_assert_eq(t->over_tolerance, 0, "the magnitude is unchanged");
    cr_assert_eq(t->worst, at);
    verdict_free(&v);
    case_free(&c);
}
