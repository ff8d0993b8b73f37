/*
 * test_oracle.c: the C oracle (oracle.h) against the independent Python one, on every golden
 * case that tools/golden/make_cases.py wrote (those carrying naive_err_out): the exact model
 * must reproduce the case's float64 (or, for the long rings, float32) expected out, lse and
 * dqkv to rounding, and the naive model's max errors against them must match the baselines that
 * tools/golden/naive.py measured (case.txt naive_err_out, naive_err_dqkv) within the spread that
 * float32 summation order alone causes.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "case.h"
#include "case_oracle.h"
#include "dtype.h"

#ifndef PATTN_SOURCE_DIR
#define PATTN_SOURCE_DIR "."
#endif

typedef struct oracle_case {
    char name[256];
} oracle_case_t;

static const char *data_dir(void)
{
    const char *env = getenv("PATTN_DATA_DIR");
    return env && *env ? env : PATTN_SOURCE_DIR "/data";
}

static void free_cases(struct criterion_test_params *params) { cr_free(params->params); }

/* Folders only (the library is not touched before Criterion forks); cases without the naive
 * baselines are skipped inside the test. */
ParameterizedTestParameters(oracle, matches_the_python_oracle)
{
    char **names = NULL;
    int count = 0;
    conf_error_t err;
    if (case_discover(data_dir(), &names, &count, &err) != 0)
        count = 0;
    oracle_case_t *cases = count ? cr_malloc((size_t)count * sizeof *cases) : NULL;
    for (int i = 0; cases && i < count; ++i)
        snprintf(cases[i].name, sizeof cases[i].name, "%s", names[i]);
    case_names_free(names, count);
    return cr_make_param_array(oracle_case_t, cases, cases ? (size_t)count : 0, free_cases);
}

/* Without this, a missing data folder, or one whose cases carry no baselines, would leave the
 * parameterised test with nothing to check, and the suite would pass. */
Test(oracle, data_folder_has_cases_with_baselines)
{
    char **names = NULL;
    int count = 0, with_baselines = 0;
    conf_error_t err;
    cr_assert_eq(case_discover(data_dir(), &names, &count, &err), 0, "%s", err.text);
    for (int i = 0; i < count; ++i) {
        char dir[4096];
        conf_case_t c;
        snprintf(dir, sizeof dir, "%s/%s", data_dir(), names[i]);
        if (case_load(dir, names[i], &c, &err) == 0) {
            with_baselines += !isnan(c.cfg.tolerance.naive_err_out);
            case_free(&c);
        }
    }
    case_names_free(names, count);
    cr_assert_gt(with_baselines, 10, "%d cases under %s carry naive_err_out", with_baselines,
                 data_dir());
}

static double max_abs(const npy_array_t *a)
{
    double m = 0;
    for (int64_t i = 0; i < a->count; ++i)
        m = fmax(m, fabs(npy_get_f64(a, i)));
    return m;
}

/* max |ours - expected| over an expected array (NaN where both are NaN counts as 0). */
static double error_against(const double *ours, const npy_array_t *exp)
{
    double *e = malloc((size_t)(exp->count + 1) * sizeof *e);
    cr_assert_not_null(e);
    for (int64_t i = 0; i < exp->count; ++i)
        e[i] = npy_get_f64(exp, i);
    double m = case_oracle_max_error(ours, e, exp->count);
    free(e);
    return m;
}

ParameterizedTest(oracle_case_t *oc, oracle, matches_the_python_oracle, .timeout = 120)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", data_dir(), oc->name);
    conf_case_t c;
    conf_error_t err;
    cr_assert_eq(case_load(dir, oc->name, &c, &err), 0, "%s: %s", oc->name, err.text);
    if (isnan(c.cfg.tolerance.naive_err_out)) {
        case_free(&c);
        cr_skip_test("%s: not written by make_cases.py (no naive baseline)", oc->name);
    }
    case_oracle_t exact, naive;
    cr_assert_eq(case_oracle_compute(&c, CONF_ORACLE_EXACT, &exact, &err), 0, "%s", err.text);
    cr_assert_eq(case_oracle_compute(&c, CONF_ORACLE_NAIVE, &naive, &err), 0, "%s", err.text);
    double naive_out = 0, naive_dqkv = 0;
    for (int p = 0; p < c.cfg.num_pipelines; ++p) {
        const conf_pipeline_t *pipe = &c.pipes[p];
        const struct {
            conf_output_t which;
            const double *exact, *naive;
        } arrays[] = {{CONF_OUT, exact.out[p], naive.out[p]},
                      {CONF_LSE, exact.lse[p], NULL},
                      {CONF_DQKV, exact.dqkv[p], naive.dqkv[p]}};
        for (int a = 0; a < 3; ++a) {
            const npy_array_t *e = &pipe->expected[arrays[a].which];
            if (!e->data || !arrays[a].exact)
                continue;
            /* float64 files: both oracles agree to summation order; float32 files: to their
             * rounding. */
            double ulp = e->dtype == NPY_F4 ? 0x1p-23 : 0x1p-40;
            double bound = ulp * fmax(1.0, max_abs(e));
            double got = error_against(arrays[a].exact, e);
            cr_expect_leq(got, bound, "%s %s.%d: the C oracle differs from the Python one by %g "
                          "(at most %g)", oc->name, conf_output_name(arrays[a].which), p, got,
                          bound);
            if (!arrays[a].naive)
                continue;
            double m = error_against(arrays[a].naive, e);
            if (arrays[a].which == CONF_OUT)
                naive_out = fmax(naive_out, m);
            else
                naive_dqkv = fmax(naive_dqkv, m);
        }
    }
    /* A max over elements of rounding errors: float32 sums in another order move single
     * elements by an ulp of the dtype, so the two measurements agree within a factor, while a
     * missing or extra rounding step (the model's substance) moves them by far more. fp32 has
     * no rounding step: its baseline is summation noise alone, which order moves more. */
    const double lo = c.cfg.dtype == PATTN_FP32 ? 1.0 / 3 : 0.9, hi = 1.0 / lo;
    double want_out = c.cfg.tolerance.naive_err_out, want_dqkv = c.cfg.tolerance.naive_err_dqkv;
    cr_expect(naive_out >= lo * want_out && naive_out <= hi * want_out,
              "%s: naive out error %g, naive.py measured %g", oc->name, naive_out, want_out);
    if (c.cfg.backward && !isnan(want_dqkv))
        cr_expect(naive_dqkv >= lo * want_dqkv && naive_dqkv <= hi * want_dqkv,
                  "%s: naive dqkv error %g, naive.py measured %g", oc->name, naive_dqkv,
                  want_dqkv);
    case_oracle_free(&exact);
    case_oracle_free(&naive);
    case_free(&c);
}
