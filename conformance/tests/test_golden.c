/*
 * test_golden.c: every golden case under $PATTN_DATA_DIR (default: the repository's data/)
 * passes on the reference backend. One parameterised test per case; the parameter generator
 * only lists folders (it must not touch the library: Criterion forks the tests afterwards).
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "case.h"
#include "compare.h"
#include "run.h"

#ifndef PATTN_SOURCE_DIR
#define PATTN_SOURCE_DIR "."
#endif

typedef struct golden_case {
    char name[256];
} golden_case_t;

static const char *data_dir(void)
{
    const char *env = getenv("PATTN_DATA_DIR");
    return env && *env ? env : PATTN_SOURCE_DIR "/data";
}

static void free_cases(struct criterion_test_params *params) { cr_free(params->params); }

ParameterizedTestParameters(golden, reference)
{
    char **names = NULL;
    int count = 0;
    conf_error_t err;
    if (case_discover(data_dir(), &names, &count, &err) != 0) {
        fprintf(stderr, "golden: %s\n", err.text);
        count = 0;
    }
    golden_case_t *cases = count ? cr_malloc((size_t)count * sizeof *cases) : NULL;
    for (int i = 0; cases && i < count; ++i)
        snprintf(cases[i].name, sizeof cases[i].name, "%s", names[i]);
    case_names_free(names, count);
    return cr_make_param_array(golden_case_t, cases, cases ? (size_t)count : 0, free_cases);
}

/* Without this, a missing or empty data folder would leave the parameterised test with nothing
 * to run, and the suite would pass. */
Test(golden, data_folder_has_cases)
{
    char **names = NULL;
    int count = 0;
    conf_error_t err;
    cr_assert_eq(case_discover(data_dir(), &names, &count, &err), 0, "%s", err.text);
    case_names_free(names, count);
    cr_assert_gt(count, 0, "no case folder (with a case.txt) under %s", data_dir());
}

ParameterizedTest(golden_case_t *gc, golden, reference, .timeout = 120)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", data_dir(), gc->name);
    conf_case_t c;
    conf_error_t err;
    cr_assert_eq(case_load(dir, gc->name, &c, &err), 0, "%s: %s", gc->name, err.text);
    conf_run_t run;
    run_case(&c, PATTN_BACKEND_REFERENCE, &run);
    cr_assert_eq(run.status, CONF_RUN_OK, "%s: the reference did not run it: %s", gc->name,
                 run.message);
    conf_tolerance_t tol =
        tolerance_apply(tolerance_default(c.cfg.dtype, c.cfg.p_dropout), &c.cfg.tolerance);
    conf_compare_t *res;
    int n;
    cr_assert_eq(compare_run(&c, &run, &tol, &res, &n), 0, "out of memory");
    int checked = 0;
    for (int i = 0; i < n; ++i) {
        char idx[64];
        checked += res[i].checked;
        cr_expect(res[i].pass,
                  "%s %s: max_abs %.3e, share %.3g of the tolerance at %s (got %.9g, expected "
                  "%.9g); %lld beyond, %lld not written, %lld non-finite, %lld sign, %lld zero "
                  "mismatches %s",
                  gc->name, res[i].tensor, res[i].max_abs, res[i].share,
                  compare_worst_index(&res[i], idx, sizeof idx), res[i].worst_got,
                  res[i].worst_expected, (long long)res[i].over_tolerance,
                  (long long)res[i].not_written, (long long)res[i].nonfinite,
                  (long long)res[i].sign_mismatch, (long long)res[i].mask_mismatch,
                  res[i].problem);
    }
    cr_expect_gt(checked, 0, "%s has no expected array to compare with", gc->name);
    free(res);
    run_free(&run);
    case_free(&c);
}
