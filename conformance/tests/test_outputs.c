/*
 * test_outputs.c: --outputs, checking arrays computed elsewhere (outputs.h). What --dump wrote
 * for the reference reads back and passes; a perturbed element, an element marked unwritten
 * (NaN, as a dump writes it) and a missing file are each reported where they are.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "case.h"
#include "compare.h"
#include "dump.h"
#include "harness_util.h"
#include "outputs.h"
#include "run.h"

#ifndef PATTN_SOURCE_DIR
#define PATTN_SOURCE_DIR "."
#endif

#define CASE "ring2_sym_fp16"

typedef struct fixture {
    char tmp[4096], folder[4400];
    conf_case_t c;
} fixture_t;

/* Loads the case, runs the reference and dumps it under a fresh folder. */
static void dump_reference(fixture_t *f)
{
    const char *env = getenv("PATTN_DATA_DIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", env && *env ? env : PATTN_SOURCE_DIR "/data", CASE);
    conf_error_t err;
    cr_assert_eq(case_load(dir, CASE, &f->c, &err), 0, "%s", err.text);
    conf_run_t run;
    run_case(&f->c, PATTN_BACKEND_REFERENCE, &run);
    cr_assert_eq(run.status, CONF_RUN_OK, "%s", run.message);
    harness_tmpdir(f->tmp, sizeof f->tmp);
    cr_assert_eq(dump_run(f->tmp, &f->c, &run, &err), 0, "%s", err.text);
    run_free(&run);
    snprintf(f->folder, sizeof f->folder, "%s/%s/reference", f->tmp, CASE);
}

/* Reads the outputs back and compares them: the comparisons, malloc'd. */
static conf_compare_t *read_and_compare(const fixture_t *f, int *n)
{
    conf_run_t run;
    conf_error_t err;
    cr_assert_eq(outputs_read(f->folder, &f->c, &run, &err), 0, "%s", err.text);
    conf_tolerance_t tol =
        tolerance_apply(tolerance_default(f->c.cfg.dtype, f->c.cfg.p_dropout), &f->c.cfg.tolerance);
    conf_compare_t *res;
    cr_assert_eq(compare_run(&f->c, &run, &tol, &res, n), 0);
    run_free(&run);
    return res;
}

static const conf_compare_t *find(const conf_compare_t *res, int n, const char *label)
{
    for (int i = 0; i < n; ++i)
        if (!strcmp(res[i].tensor, label))
            return &res[i];
    cr_assert_fail("no %s among the comparisons", label);
    return NULL;
}

static int failures(const conf_compare_t *res, int n)
{
    int bad = 0;
    for (int i = 0; i < n; ++i)
        bad += !res[i].pass;
    return bad;
}

/* Rewrites folder/out.1.npy with element i set to v. */
static void set_out1(const fixture_t *f, int64_t i, float v)
{
    char path[4600];
    snprintf(path, sizeof path, "%s/out.1.npy", f->folder);
    npy_array_t a;
    conf_error_t err;
    cr_assert_eq(npy_read(path, &a, &err), 0, "%s", err.text);
    cr_assert_eq(a.dtype, NPY_F4);
    ((float *)a.data)[i] = v;
    cr_assert_eq(npy_write(path, &a, &err), 0, "%s", err.text);
    npy_free(&a);
}

Test(outputs, a_dump_reads_back_and_passes)
{
    fixture_t f;
    dump_reference(&f);
    char **labels;
    int count;
    conf_error_t err;
    cr_assert_eq(outputs_labels(f.tmp, CASE, &labels, &count, &err), 0, "%s", err.text);
    cr_assert_eq(count, 1);
    cr_assert_str_eq(labels[0], "reference");
    case_names_free(labels, count);
    int n;
    conf_compare_t *res = read_and_compare(&f, &n);
    cr_assert_eq(n, 6, "out, lse and rng_state of both ring members");
    cr_assert_eq(failures(res, n), 0);
    free(res);
    cr_assert_eq(outputs_labels(f.tmp, "no_such_case", &labels, &count, &err), 0);
    cr_assert_eq(count, 0);
    case_free(&f.c);
    harness_remove_tree(f.tmp);
}

Test(outputs, a_perturbed_element_fails_where_it_is)
{
    fixture_t f;
    dump_reference(&f);
    const npy_array_t *exp = &f.c.pipes[1].expected[CONF_OUT];
    int64_t at = exp->count / 3;
    set_out1(&f, at, (float)npy_get_f64(exp, at) + 0.25f);
    int n;
    conf_compare_t *res = read_and_compare(&f, &n);
    const conf_compare_t *out1 = find(res, n, "out.1");
    cr_assert_not(out1->pass);
    cr_assert_eq(out1->over_tolerance, 1);
    cr_assert_eq(out1->worst, at);
    cr_assert_eq(failures(res, n), 1, "only out.1 fails");
    free(res);

    set_out1(&f, at, NAN); /* what a dump writes for an element never written */
    res = read_and_compare(&f, &n);
    out1 = find(res, n, "out.1");
    cr_assert_eq(out1->not_written, 1);
    cr_assert_eq(out1->worst, at);
    free(res);
    case_free(&f.c);
    harness_remove_tree(f.tmp);
}

Test(outputs, a_missing_file_is_named)
{
    fixture_t f;
    dump_reference(&f);
    char path[4600];
    snprintf(path, sizeof path, "%s/lse.0.npy", f.folder);
    cr_assert_eq(remove(path), 0);
    int n;
    conf_compare_t *res = read_and_compare(&f, &n);
    const conf_compare_t *lse0 = find(res, n, "lse.0");
    cr_assert_not(lse0->pass);
    cr_assert_not_null(strstr(lse0->problem, "the case has lse.0.npy but the run produced no "
                                             "lse.0"), "%s", lse0->problem);
    free(res);
    case_free(&f.c);
    harness_remove_tree(f.tmp);
}
