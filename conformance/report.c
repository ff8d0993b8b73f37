/*
 * report.c: the text table and TAP 13 output of the conformance program, per-backend tallies
 * and skip reasons (report.h); the JUnit file is junit.c's. Each case's rows are formatted once
 * into a memory stream, printed (as TAP comments in TAP mode) and handed to the JUnit file.
 */
#define _POSIX_C_SOURCE 200809L
#include "report.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- rows */
static const char *number(double v, char *buf, size_t size)
{
    snprintf(buf, size, "%.3e", v);
    return buf;
}

static void header(FILE *t, int w)
{
    fprintf(t, "%-*s  %-9s  %-12s  %10s  %10s  %-18s  %9s  %s\n", w, "case", "backend", "tensor",
            "max_abs", "max_rel", "worst index", "tol share", "result");
}

static void tensor_row(FILE *t, int w, const conf_case_result_t *res, const conf_compare_t *c)
{
    char abs_s[32], rel_s[32], share_s[32], idx[64];
    compare_worst_index(c, idx, sizeof idx);
    int numbers = c->checked && !c->problem[0];
    if (numbers)
        snprintf(share_s, sizeof share_s, "%.4f", c->share);
    fprintf(t, "%-*s  %-9s  %-12s  %10s  %10s  %-18s  %9s  %s\n", w, res->case_name, res->backend,
            c->tensor, numbers ? number(c->max_abs, abs_s, sizeof abs_s) : "-",
            numbers ? number(c->max_rel, rel_s, sizeof rel_s) : "-", idx, numbers ? share_s : "-",
            c->pass ? "PASS" : "FAIL");
}

/* Why a tensor failed, or (-v) how it was checked. */
static void tensor_detail(FILE *t, const conf_compare_t *c, int verbose)
{
    if (c->problem[0]) {
        fprintf(t, "    %s: %s\n", c->tensor, c->problem);
        return;
    }
    if (c->pass && !verbose)
        return;
    fprintf(t, "    %s: %lld elements", c->tensor, (long long)c->count);
    if (!c->checked)
        fprintf(t, ", no expected array (only checked that every element was written)");
    else if (!strncmp(c->tensor, "rng_state", 9))
        fprintf(t, ", exact");
    else
        fprintf(t, ", bound %g + %g*|exp|", c->atol, c->rtol);
    if (!isnan(c->rule_limit))
        fprintf(t, ", FlashAttention's rule max_abs <= %g x naive %.3g + noise %.3g = %.3g%s",
                c->rule_factor, c->rule_naive, c->rule_noise, c->rule_limit,
                c->rule_broken ? " BROKEN" : "");
    if (c->over_tolerance)
        fprintf(t, ", %lld beyond the bound", (long long)c->over_tolerance);
    if (c->not_written)
        fprintf(t, ", %lld not written (NaN poison left)", (long long)c->not_written);
    if (c->nonfinite)
        fprintf(t, ", %lld non-finite mismatches", (long long)c->nonfinite);
    if (c->sign_mismatch)
        fprintf(t, ", %lld dropout-mask (sign) mismatches", (long long)c->sign_mismatch);
    if (c->mask_mismatch)
        fprintf(t, ", %lld zero-mask mismatches", (long long)c->mask_mismatch);
    if (c->worst >= 0) {
        char idx[64];
        fprintf(t, "; at %s got %.9g expected %.9g", compare_worst_index(c, idx, sizeof idx),
                c->worst_got, c->worst_expected);
    }
    fprintf(t, "\n");
}

static const char *const VERDICT_WORD[] = {"PASS", "FAIL", "ERROR", "SKIP"};

/* show_message: 0 when the skip reason was already printed for this backend. */
static void case_rows(FILE *t, const conf_report_options_t *opt, const conf_case_result_t *res,
                      int show_message)
{
    int w = opt->name_width;
    if (res->verdict != CONF_PASS && res->num_tensors == 0)
        fprintf(t, "%-*s  %-9s  %-12s  %10s  %10s  %-18s  %9s  %s\n", w, res->case_name,
                res->backend, "-", "-", "-", "-", "-", VERDICT_WORD[res->verdict]);
    for (int i = 0; i < res->num_tensors; ++i)
        if (res->tensors[i].checked || !res->tensors[i].pass || opt->verbose)
            tensor_row(t, w, res, &res->tensors[i]);
    if (res->message && res->message[0])
        fprintf(t, show_message ? "    %s\n" : "    (skipped: the reason above)\n",
                res->message);
    for (int i = 0; i < res->num_tensors; ++i)
        tensor_detail(t, &res->tensors[i], opt->verbose);
    if (opt->verbose) {
        if (res->detail && res->detail[0])
            fprintf(t, "    %s\n", res->detail);
        fprintf(t, "    time in the API calls: %.3f ms\n", res->seconds * 1e3);
    }
}

/* Prints text line by line, as comments in TAP mode. */
static void print_lines(conf_report_t *r, const char *s)
{
    while (s && *s) {
        const char *nl = strchr(s, '\n');
        int len = nl ? (int)(nl - s) : (int)strlen(s);
        fprintf(r->out, "%s%.*s\n", r->opt.tap ? "# " : "", len, s);
        s += len + (nl ? 1 : 0);
    }
}

int report_begin(conf_report_t *r, const conf_report_options_t *opt, FILE *out)
{
    memset(r, 0, sizeof *r);
    r->opt = *opt;
    if (r->opt.name_width < 4)
        r->opt.name_width = 4;
    r->out = out;
    if (junit_open(&r->junit, opt->junit_path))
        return -1;
    if (opt->tap)
        fprintf(out, "TAP version 13\n");
    char line[512];
    FILE *t = fmemopen(line, sizeof line, "w");
    if (t) {
        header(t, r->opt.name_width);
        fclose(t);
        print_lines(r, line);
    }
    return 0;
}

void report_note(conf_report_t *r, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    print_lines(r, line);
    fflush(r->out);
}

/* ---------------------------------------------------------------- TAP */
static void yaml_string(FILE *f, const char *key, const char *s)
{
    fprintf(f, "%s: \"", key);
    for (; s && *s; ++s) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\x%02x", (unsigned char)*s);
        else
            fputc(*s, f);
    }
    fprintf(f, "\"\n");
}

static void yaml_number(FILE *f, const char *indent, const char *key, double v)
{
    if (isnan(v))
        fprintf(f, "%s%s: .nan\n", indent, key);
    else if (isinf(v))
        fprintf(f, "%s%s: %s.inf\n", indent, key, v < 0 ? "-" : "");
    else
        fprintf(f, "%s%s: %.9g\n", indent, key, v);
}

/* The YAML block of a failing test point: the message, and per failing tensor its numbers. */
static void tap_yaml(FILE *f, const conf_case_result_t *res)
{
    fprintf(f, "  ---\n  ");
    yaml_string(f, "message", res->message);
    fprintf(f, "  severity: %s\n", res->verdict == CONF_ERROR ? "error" : "fail");
    int listed = 0;
    for (int i = 0; i < res->num_tensors; ++i) {
        const conf_compare_t *c = &res->tensors[i];
        if (c->pass)
            continue;
        if (!listed++)
            fprintf(f, "  tensors:\n");
        fprintf(f, "    - ");
        yaml_string(f, "tensor", c->tensor);
        if (c->problem[0]) {
            fprintf(f, "      ");
            yaml_string(f, "problem", c->problem);
            continue;
        }
        char idx[64];
        fprintf(f, "      ");
        yaml_string(f, "at", compare_worst_index(c, idx, sizeof idx));
        yaml_number(f, "      ", "got", c->worst_got);
        yaml_number(f, "      ", "expected", c->worst_expected);
        yaml_number(f, "      ", "max_abs", c->max_abs);
        yaml_number(f, "      ", "max_rel", c->max_rel);
        yaml_number(f, "      ", "share", c->share);
        yaml_number(f, "      ", "atol", c->atol);
        yaml_number(f, "      ", "rtol", c->rtol);
        if (!isnan(c->rule_limit))
            yaml_number(f, "      ", "rule_limit", c->rule_limit);
        const struct {
            const char *key;
            int64_t value;
        } counts[] = {{"beyond", c->over_tolerance}, {"not_written", c->not_written},
                      {"non_finite", c->nonfinite},  {"sign_mismatch", c->sign_mismatch},
                      {"zero_mismatch", c->mask_mismatch}};
        for (size_t k = 0; k < sizeof counts / sizeof counts[0]; ++k)
            fprintf(f, "      %s: %lld\n", counts[k].key, (long long)counts[k].value);
    }
    fprintf(f, "  ...\n");
}

static void tap_point(conf_report_t *r, const conf_case_result_t *res, int number)
{
    int bad = res->verdict == CONF_FAIL || res->verdict == CONF_ERROR;
    fprintf(r->out, "%s %d - %s [%s]", bad ? "not ok" : "ok", number, res->case_name,
            res->backend);
    if (res->verdict == CONF_SKIP)
        fprintf(r->out, " # SKIP %s", res->message ? res->message : "");
    fprintf(r->out, "\n");
    if (bad)
        tap_yaml(r->out, res);
}

/* ---------------------------------------------------------------- tallies */
static conf_tally_t *tally_of(conf_report_t *r, const char *backend)
{
    for (int i = 0; i < r->num_tallies; ++i)
        if (!strcmp(r->tallies[i].backend, backend))
            return &r->tallies[i];
    int i = r->num_tallies < CONF_MAX_TALLIES ? r->num_tallies++ : CONF_MAX_TALLIES - 1;
    if (!r->tallies[i].backend[0])
        snprintf(r->tallies[i].backend, sizeof r->tallies[i].backend, "%s",
                 i == CONF_MAX_TALLIES - 1 ? "(others)" : backend);
    return &r->tallies[i];
}

/* Counts a skip reason; returns 1 when it is new for this backend (print it), else 0. */
static int note_reason(conf_report_t *r, const char *backend, const char *reason)
{
    for (int i = 0; i < r->num_reasons; ++i)
        if (!strcmp(r->reasons[i].backend, backend) && !strcmp(r->reasons[i].reason, reason)) {
            ++r->reasons[i].count;
            return 0;
        }
    if (r->num_reasons == CONF_MAX_SKIP_REASONS)
        return 1;
    conf_skip_reason_t *s = &r->reasons[r->num_reasons++];
    snprintf(s->backend, sizeof s->backend, "%s", backend);
    snprintf(s->reason, sizeof s->reason, "%s", reason);
    s->count = 1;
    return 1;
}

/* "out.1 (share 14.8), softmax.0 (3 sign)": the failing tensors, for TAP and JUnit. */
static void failure_summary(const conf_case_result_t *res, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < res->num_tensors && used < size; ++i) {
        const conf_compare_t *c = &res->tensors[i];
        if (c->pass)
            continue;
        used += (size_t)snprintf(buf + used, size - used, "%s%s (", used ? ", " : "", c->tensor);
        if (used >= size)
            break;
        if (c->problem[0])
            used += (size_t)snprintf(buf + used, size - used, "%s)", c->problem);
        else
            used += (size_t)snprintf(buf + used, size - used, "share %.3g, %lld beyond, %lld not "
                                     "written, %lld non-finite, %lld sign, %lld zero-mask%s)",
                                     c->share, (long long)c->over_tolerance,
                                     (long long)c->not_written, (long long)c->nonfinite,
                                     (long long)c->sign_mismatch, (long long)c->mask_mismatch,
                                     c->rule_broken ? ", beyond FlashAttention's rule" : "");
    }
}

void report_running(conf_report_t *r, const char *case_name, const char *backend)
{
    if (junit_mark_running(&r->junit, backend, case_name))
        r->junit_failed = 1;
}

void report_case(conf_report_t *r, const conf_case_result_t *given)
{
    char summary[1024];
    conf_case_result_t copy = *given, *res = &copy; /* with a message for TAP and JUnit */
    if (res->verdict == CONF_FAIL && !(res->message && res->message[0])) {
        failure_summary(res, summary, sizeof summary);
        res->message = summary;
    }
    int show_message = res->verdict != CONF_SKIP ||
                       note_reason(r, res->backend, res->message ? res->message : "");
    char *rows = NULL;
    size_t rows_size = 0;
    FILE *t = open_memstream(&rows, &rows_size);
    if (t) {
        case_rows(t, &r->opt, res, show_message);
        fclose(t);
    }
    print_lines(r, rows ? rows : "(out of memory formatting the rows)\n");
    int *counters[] = {&r->passed, &r->failed, &r->errors, &r->skipped};
    ++*counters[res->verdict];
    conf_tally_t *tally = tally_of(r, res->backend);
    int *tally_counters[] = {&tally->passed, &tally->failed, &tally->errors, &tally->skipped};
    ++*tally_counters[res->verdict];
    tally->partial += res->verdict == CONF_SKIP && res->partial;
    if (r->opt.tap)
        tap_point(r, res, r->passed + r->failed + r->errors + r->skipped);
    if (junit_add(&r->junit, res->backend, res->case_name, res->verdict, res->message, rows,
                  res->seconds))
        r->junit_failed = 1;
    free(rows);
    fflush(r->out);
}

void report_tallies(conf_report_t *r)
{
    for (int i = 0; i < r->num_tallies; ++i) {
        const conf_tally_t *t = &r->tallies[i];
        report_note(r, "%s: %d checked (%d passed, %d failed, %d forward only), %d skipped, "
                    "%d errors", t->backend, t->passed + t->failed + t->partial, t->passed,
                    t->failed, t->partial, t->skipped - t->partial, t->errors);
        for (int k = 0; k < r->num_reasons; ++k)
            if (!strcmp(r->reasons[k].backend, t->backend))
                report_note(r, "  skipped %d x: %s", r->reasons[k].count, r->reasons[k].reason);
    }
    if (r->errors)
        report_note(r, "%d errors: cases that could not be checked (counted as failed)",
                    r->errors);
}

int report_end(conf_report_t *r)
{
    fprintf(r->out, "%s%d passed, %d failed", r->opt.tap ? "# " : "", r->passed,
            r->failed + r->errors);
    if (r->skipped)
        fprintf(r->out, ", %d skipped", r->skipped);
    fprintf(r->out, "\n");
    if (r->opt.tap)
        fprintf(r->out, "1..%d\n", r->passed + r->failed + r->errors + r->skipped);
    fflush(r->out);
    junit_close(&r->junit);
    return r->junit_failed ? -1 : 0;
}

conf_verdict_t report_verdict(const conf_compare_t *tensors, int num_tensors)
{
    for (int i = 0; i < num_tensors; ++i)
        if (!tensors[i].pass)
            return CONF_FAIL;
    return CONF_PASS;
}
