/*
 * test_report.c: the report's machine-readable forms (report.h, junit.h) on synthetic results:
 * TAP that ends with its plan and keeps the closing count as a comment, one point per result
 * with a YAML block of separate fields for a failure; a JUnit file that exists before the
 * first case, is complete after every result, names the case a crash would interrupt, and
 * uses <error>, <failure> and <skipped> with 3-decimal times. CI also feeds both to real
 * consumers (tools/ci/report_formats.sh: prove, tap.py, xmllint with tests/junit.xsd).
 */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness_util.h"
#include "report.h"

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static int count(const char *text, const char *needle)
{
    int n = 0;
    for (const char *s = text; (s = strstr(s, needle)); s += strlen(needle))
        ++n;
    return n;
}

static conf_compare_t failing_tensor(void)
{
    conf_compare_t c;
    memset(&c, 0, sizeof c);
    snprintf(c.tensor, sizeof c.tensor, "out.1");
    c.checked = 1;
    c.count = 12;
    c.atol = 1e-3;
    c.rtol = 1e-2;
    c.max_abs = 0.5;
    c.max_rel = 0.8;
    c.share = 40.0;
    c.ndim = 2;
    c.shape[0] = 3;
    c.shape[1] = 4;
    c.worst = 5;
    c.worst_got = 1.25;
    c.worst_expected = 0.75;
    c.over_tolerance = 2;
    c.rule_factor = c.rule_naive = c.rule_noise = c.rule_limit = NAN;
    return c;
}

/* Four results: a pass, a failure, a skip, an error (a case that did not load). */
static void report_four(conf_report_t *r)
{
    conf_compare_t bad = failing_tensor();
    conf_case_result_t results[] = {
        {"alpha", "reference", CONF_PASS, NULL, NULL, NULL, 0, 0.0012345, 0},
        {"beta <&>", "reference", CONF_FAIL, NULL, NULL, &bad, 1, 0.25, 0},
        {"gamma", "cuda", CONF_SKIP, "no GPU", NULL, NULL, 0, 0, 0},
        {"delta", "load", CONF_ERROR, "delta/case.txt: cannot open", NULL, NULL, 0, 0, 0}};
    for (int i = 0; i < 4; ++i) {
        report_running(r, results[i].case_name, results[i].backend);
        report_case(r, &results[i]);
    }
}

Test(report, tap_plan_last_summary_as_comment_yaml_fields)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    conf_report_t r;
    conf_report_options_t opt = {1, 0, NULL, 10};
    cr_assert_eq(report_begin(&r, &opt, out), 0);
    report_four(&r);
    report_tallies(&r);
    cr_assert_eq(report_end(&r), 0);
    fclose(out);
    cr_assert(!strncmp(text, "TAP version 13\n", 15), "%s", text);
    size_t len = strlen(text);
    cr_assert(len > 5 && !strcmp(text + len - 5, "1..4\n"), "the plan must be the last line:\n%s",
              text);
    cr_assert_not_null(strstr(text, "\n# 1 passed, 2 failed, 1 skipped\n1..4\n"),
                       "the closing count is a comment right before the plan:\n%s", text);
    cr_assert_not_null(strstr(text, "\nok 1 - alpha [reference]\n"), "%s", text);
    cr_assert_not_null(strstr(text, "\nnot ok 2 - beta <&> [reference]\n  ---\n"), "%s", text);
    cr_assert_not_null(strstr(text, "\nok 3 - gamma [cuda] # SKIP no GPU\n"), "%s", text);
    cr_assert_not_null(strstr(text, "\nnot ok 4 - delta [load]\n"), "%s", text);
    cr_assert_not_null(strstr(text, "    - tensor: \"out.1\"\n      at: \"[1,1]\"\n      got: 1.25\n"
                                    "      expected: 0.75\n"), "%s", text);
    cr_assert_not_null(strstr(text, "  severity: error\n"), "%s", text);
    /* every other line is a TAP line or a comment */
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        cr_assert(!strncmp(line, "# ", 2) || !strncmp(line, "ok ", 3) ||
                      !strncmp(line, "not ok ", 7) || !strncmp(line, "  ", 2) ||
                      !strncmp(line, "TAP version", 11) || !strncmp(line, "1..", 3),
                  "a line TAP does not allow: %.*s", (int)(nl - line), line);
        line = nl + 1;
    }
    free(text);
}

static void assert_matches(const char *text, const char *pattern, int want)
{
    regex_t re;
    cr_assert_eq(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
    cr_assert_eq(regexec(&re, text, 0, NULL, 0) == 0, want, "/%s/ %s in:\n%s", pattern,
                 want ? "expected" : "not expected", text);
    regfree(&re);
}

Test(report, junit_written_from_the_start_and_after_every_result)
{
    char dir[4096], path[4200];
    harness_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/report.xml", dir);
    FILE *out = fopen("/dev/null", "w");
    conf_report_t r;
    conf_report_options_t opt = {0, 0, path, 10};
    cr_assert_eq(report_begin(&r, &opt, out), 0);
    const char *text = read_file(path);
    cr_assert_not_null(strstr(text, "tests=\"0\""), "an empty report exists before any case:\n%s",
                       text);
    report_running(&r, "alpha", "reference");
    text = read_file(path);
    cr_assert_not_null(strstr(text, "<testcase classname=\"conformance.reference\" name=\"alpha\""),
                       "%s", text);
    cr_assert_not_null(strstr(text, "<error message=\"did not finish"), "%s", text);
    report_four(&r);
    report_tallies(&r);
    cr_assert_eq(report_end(&r), 0);
    fclose(out);
    text = read_file(path);
    cr_assert_eq(count(text, "<testcase "), 4, "%s", text);
    cr_assert_not_null(strstr(text, "<testsuite name=\"conformance\" tests=\"4\" failures=\"1\" "
                                    "errors=\"1\" skipped=\"1\""), "%s", text);
    assert_matches(text, "<testsuites [^>]*skipped", 0); /* the schema has none there */
    assert_matches(text, "time=\"[0-9]+\\.[0-9]{4,}\"", 0);
    assert_matches(text, "time=\"0\\.001\"", 1);
    cr_assert_not_null(strstr(text, "name=\"beta &lt;&amp;&gt;\""), "%s", text);
    cr_assert_not_null(strstr(text, "<failure message=\"out.1 (share 40"), "%s", text);
    cr_assert_not_null(strstr(text, "<skipped message=\"no GPU\"/>"), "%s", text);
    cr_assert_not_null(strstr(text, "<error message=\"delta/case.txt: cannot open\"/>"), "%s", text);
    cr_assert_null(strstr(text, "did not finish"), "no case is left marked running:\n%s", text);
    cr_assert(text[strlen(text) - 1] == '\n' && strstr(text, "</testsuites>\n"));
    harness_remove_tree(dir);
}

Test(report, junit_into_a_missing_folder_fails_before_anything_runs)
{
    FILE *out = fopen("/dev/null", "w");
    conf_report_t r;
    conf_report_options_t opt = {0, 0, "/nonexistent-folder/report.xml", 10};
    cr_assert_eq(report_begin(&r, &opt, out), -1);
    fclose(out);
}
