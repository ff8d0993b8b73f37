/*
 * report.c: the text table, TAP 13 and JUnit XML output of the conformance program
 * (report.h). Each case's rows are formatted once into a buffer, printed (as TAP comments in
 * TAP mode) and kept for the JUnit file, which is written at the end.
 */
#define _POSIX_C_SOURCE 200809L
#include "report.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- growing strings */
typedef struct text {
    char *s;
    size_t len, cap;
    int oom;
} text_t;

static void text_add(text_t *t, const char *fmt, ...) CONF_PRINTF(2, 3);
static void text_add(text_t *t, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0 || t->oom)
            return;
        if (t->s && t->len + (size_t)n < t->cap) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = (t->cap + (size_t)n + 256) * 2;
        char *grown = realloc(t->s, cap);
        if (!grown) {
            t->oom = 1;
            return;
        }
        t->s = grown;
        t->cap = cap;
    }
}

struct conf_junit_entry {
    char *case_name, *backend, *message, *rows;
    conf_verdict_t verdict;
    double seconds;
};

static char *copy_or_empty(const char *s) { return strdup(s ? s : ""); }

/* ---------------------------------------------------------------- rows */
static const char *number(double v, char *buf, size_t size)
{
    snprintf(buf, size, "%.3e", v);
    return buf;
}

static void header(text_t *t, int w)
{
    text_add(t, "%-*s  %-9s  %-12s  %10s  %10s  %-18s  %9s  %s\n", w, "case", "backend", "tensor",
             "max_abs", "max_rel", "worst index", "tol share", "result");
}

static void tensor_row(text_t *t, int w, const conf_case_result_t *res, const conf_compare_t *c)
{
    char abs_s[32], rel_s[32], share_s[32], idx[64];
    compare_worst_index(c, idx, sizeof idx);
    int numbers = c->checked && !c->problem[0];
    if (numbers)
        snprintf(share_s, sizeof share_s, "%.4f", c->share);
    text_add(t, "%-*s  %-9s  %-12s  %10s  %10s  %-18s  %9s  %s\n", w, res->case_name,
             res->backend, c->tensor, numbers ? number(c->max_abs, abs_s, sizeof abs_s) : "-",
             numbers ? number(c->max_rel, rel_s, sizeof rel_s) : "-", idx,
             numbers ? share_s : "-", c->pass ? "PASS" : "FAIL");
}

/* Why a tensor failed, or (-v) how it was checked. */
static void tensor_detail(text_t *t, const conf_compare_t *c, int verbose)
{
    if (c->problem[0]) {
        text_add(t, "    %s: %s\n", c->tensor, c->problem);
        return;
    }
    if (c->pass && !verbose)
        return;
    text_add(t, "    %s: %lld elements", c->tensor, (long long)c->count);
    if (!c->checked)
        text_add(t, ", no expected array (only checked that every element was written)");
    else if (!strncmp(c->tensor, "rng_state", 9))
        text_add(t, ", exact");
    else
        text_add(t, ", bound %g + %g*|exp|", c->atol, c->rtol);
    if (c->over_tolerance)
        text_add(t, ", %lld beyond the bound", (long long)c->over_tolerance);
    if (c->not_written)
        text_add(t, ", %lld not written (NaN poison left)", (long long)c->not_written);
    if (c->nonfinite)
        text_add(t, ", %lld non-finite mismatches", (long long)c->nonfinite);
    if (c->sign_mismatch)
        text_add(t, ", %lld dropout-mask (sign) mismatches", (long long)c->sign_mismatch);
    if (c->mask_mismatch)
        text_add(t, ", %lld zero-mask mismatches", (long long)c->mask_mismatch);
    if (c->worst >= 0) {
        char idx[64];
        text_add(t, "; at %s got %.9g expected %.9g", compare_worst_index(c, idx, sizeof idx),
                 c->worst_got, c->worst_expected);
    }
    text_add(t, "\n");
}

static void case_rows(text_t *t, const conf_report_options_t *opt, const conf_case_result_t *res)
{
    int w = opt->name_width;
    if (res->verdict == CONF_SKIP || (res->verdict == CONF_FAIL && res->num_tensors == 0)) {
        text_add(t, "%-*s  %-9s  %-12s  %10s  %10s  %-18s  %9s  %s\n", w, res->case_name,
                 res->backend, "-", "-", "-", "-", "-",
                 res->verdict == CONF_SKIP ? "SKIP" : "FAIL");
    }
    for (int i = 0; i < res->num_tensors; ++i)
        if (res->tensors[i].checked || !res->tensors[i].pass || opt->verbose)
            tensor_row(t, w, res, &res->tensors[i]);
    if (res->message && res->message[0])
        text_add(t, "    %s\n", res->message);
    for (int i = 0; i < res->num_tensors; ++i)
        tensor_detail(t, &res->tensors[i], opt->verbose);
    if (opt->verbose) {
        if (res->detail && res->detail[0])
            text_add(t, "    %s\n", res->detail);
        text_add(t, "    time in the API calls: %.3f ms\n", res->seconds * 1e3);
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

void report_begin(conf_report_t *r, const conf_report_options_t *opt, FILE *out)
{
    memset(r, 0, sizeof *r);
    r->opt = *opt;
    if (r->opt.name_width < 4)
        r->opt.name_width = 4;
    r->out = out;
    if (opt->tap)
        fprintf(out, "TAP version 13\n");
    text_t t = {0};
    header(&t, r->opt.name_width);
    print_lines(r, t.s);
    free(t.s);
}

void report_note(conf_report_t *r, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    print_lines(r, line);
}

static void tap_point(conf_report_t *r, const conf_case_result_t *res, int number)
{
    const char *ok = res->verdict == CONF_FAIL ? "not ok" : "ok";
    fprintf(r->out, "%s %d - %s [%s]", ok, number, res->case_name, res->backend);
    if (res->verdict == CONF_SKIP)
        fprintf(r->out, " # SKIP %s", res->message ? res->message : "");
    fprintf(r->out, "\n");
    if (res->verdict != CONF_FAIL)
        return;
    fprintf(r->out, "  ---\n");
    if (res->message && res->message[0]) {
        fprintf(r->out, "  message: \"");
        for (const char *s = res->message; *s; ++s)
            fprintf(r->out, *s == '"' || *s == '\\' ? "\\%c" : "%c", *s);
        fprintf(r->out, "\"\n");
    }
    fprintf(r->out, "  ...\n");
}

static void keep_for_junit(conf_report_t *r, const conf_case_result_t *res, const char *rows)
{
    if (!r->opt.junit_path)
        return;
    if (r->num_entries == r->cap_entries) {
        int cap = r->cap_entries ? 2 * r->cap_entries : 32;
        conf_junit_entry_t *grown = realloc(r->entries, (size_t)cap * sizeof *grown);
        if (!grown)
            return; /* the file will lack this entry; report_end notices the count */
        r->entries = grown;
        r->cap_entries = cap;
    }
    conf_junit_entry_t *e = &r->entries[r->num_entries++];
    e->case_name = copy_or_empty(res->case_name);
    e->backend = copy_or_empty(res->backend);
    e->message = copy_or_empty(res->message);
    e->rows = copy_or_empty(rows);
    e->verdict = res->verdict;
    e->seconds = res->seconds;
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
                                     "written, %lld non-finite, %lld sign, %lld zero-mask)",
                                     c->share, (long long)c->over_tolerance,
                                     (long long)c->not_written, (long long)c->nonfinite,
                                     (long long)c->sign_mismatch, (long long)c->mask_mismatch);
    }
}

void report_case(conf_report_t *r, const conf_case_result_t *given)
{
    text_t t = {0};
    case_rows(&t, &r->opt, given);
    char summary[1024];
    conf_case_result_t copy = *given, *res = &copy; /* with a message for TAP and JUnit */
    if (res->verdict == CONF_FAIL && !(res->message && res->message[0])) {
        failure_summary(res, summary, sizeof summary);
        res->message = summary;
    }
    print_lines(r, t.oom ? "(out of memory formatting the rows)\n" : t.s);
    int number = r->passed + r->failed + r->skipped + 1;
    if (res->verdict == CONF_PASS)
        ++r->passed;
    else if (res->verdict == CONF_FAIL)
        ++r->failed;
    else
        ++r->skipped;
    if (r->opt.tap)
        tap_point(r, res, number);
    keep_for_junit(r, res, t.s);
    free(t.s);
    fflush(r->out);
}

/* ---------------------------------------------------------------- JUnit */
static void xml_text(FILE *f, const char *s)
{
    for (; s && *s; ++s) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default:
            if ((unsigned char)*s >= 0x20 || *s == '\n' || *s == '\t')
                fputc(*s, f);
        }
    }
}

static int write_junit(const conf_report_t *r)
{
    FILE *f = fopen(r->opt.junit_path, "w");
    if (!f) {
        fprintf(stderr, "conformance: --junit %s: cannot create the file\n", r->opt.junit_path);
        return -1;
    }
    double total = 0;
    for (int i = 0; i < r->num_entries; ++i)
        total += r->entries[i].seconds;
    int tests = r->passed + r->failed + r->skipped;
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f, "<testsuites name=\"conformance\" tests=\"%d\" failures=\"%d\" skipped=\"%d\" "
            "errors=\"0\" time=\"%.6f\">\n", tests, r->failed, r->skipped, total);
    fprintf(f, "  <testsuite name=\"conformance\" tests=\"%d\" failures=\"%d\" skipped=\"%d\" "
            "errors=\"0\" time=\"%.6f\">\n", tests, r->failed, r->skipped, total);
    for (int i = 0; i < r->num_entries; ++i) {
        const conf_junit_entry_t *e = &r->entries[i];
        fprintf(f, "    <testcase classname=\"conformance.");
        xml_text(f, e->backend);
        fprintf(f, "\" name=\"");
        xml_text(f, e->case_name);
        fprintf(f, "\" time=\"%.6f\">\n", e->seconds);
        if (e->verdict != CONF_PASS) {
            fprintf(f, "      <%s message=\"", e->verdict == CONF_FAIL ? "failure" : "skipped");
            xml_text(f, e->message);
            fprintf(f, "\"/>\n");
        }
        fprintf(f, "      <system-out>");
        xml_text(f, e->rows);
        fprintf(f, "</system-out>\n    </testcase>\n");
    }
    fprintf(f, "  </testsuite>\n</testsuites>\n");
    int bad = ferror(f);
    if (fclose(f) != 0 || bad || r->num_entries != tests) {
        fprintf(stderr, "conformance: --junit %s: write failed\n", r->opt.junit_path);
        return -1;
    }
    return 0;
}

int report_end(conf_report_t *r)
{
    int rc = 0;
    if (r->opt.tap)
        fprintf(r->out, "1..%d\n", r->passed + r->failed + r->skipped);
    if (r->opt.junit_path)
        rc = write_junit(r);
    for (int i = 0; i < r->num_entries; ++i) {
        free(r->entries[i].case_name);
        free(r->entries[i].backend);
        free(r->entries[i].message);
        free(r->entries[i].rows);
    }
    free(r->entries);
    r->entries = NULL;
    if (r->skipped)
        fprintf(r->out, "%d passed, %d failed, %d skipped\n", r->passed, r->failed, r->skipped);
    else
        fprintf(r->out, "%d passed, %d failed\n", r->passed, r->failed);
    fflush(r->out);
    return rc;
}

conf_verdict_t report_verdict(const conf_compare_t *tensors, int num_tensors)
{
    for (int i = 0; i < num_tensors; ++i)
        if (!tensors[i].pass)
            return CONF_FAIL;
    return CONF_PASS;
}
