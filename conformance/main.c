/*
 * main.c: the `conformance` program (SPEC section 6). Runs golden cases on every backend this
 * build has (or reads outputs computed elsewhere, --outputs) and compares them with the
 * expected arrays, or (--random N) checks a backend against the float64 oracle on random
 * configurations. A run that checked too little is not a pass. The exit status is the
 * sum of options.h's flags.
 */
#define _POSIX_C_SOURCE 200809L
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"
#include "case.h"
#include "compare.h"
#include "dump.h"
#include "memspace.h"
#include "options.h"
#include "outputs.h"
#include "plot.h"
#include "random_case.h"
#include "report.h"
#include "run.h"

/* ---------------------------------------------------------------- the cases */
typedef struct case_entry {
    char *name;
    char *dir;
} case_entry_t;

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s/%s", a, b);
    return s;
}

static int matches(const conf_options_t *o, const char *name)
{
    for (int i = 0; i < o->num_filters; ++i)
        if (fnmatch(o->filters[i], name, 0) == 0)
            return 1;
    return o->num_filters == 0;
}

static int name_taken(const case_entry_t *cases, int n, const char *name)
{
    for (int i = 0; i < n; ++i)
        if (!strcmp(cases[i].name, name))
            return 1;
    return 0;
}

/* The base name of a --case folder, made unique among the first n names ("foo", "foo@2"), so
 * that reports and --dump folders never merge two cases. */
static char *unique_name(const case_entry_t *cases, int n, const char *dir)
{
    const char *base = strrchr(dir, '/');
    base = base ? base + 1 : dir;
    size_t size = strlen(base) + 16;
    char *name = malloc(size);
    for (int k = 1; name; ++k) {
        if (k == 1)
            snprintf(name, size, "%s", base);
        else
            snprintf(name, size, "%s@%d", base, k);
        if (!name_taken(cases, n, name))
            break;
    }
    return name;
}

/* The cases to run: the --case folders, or every case under --data; then the filters. */
static int collect_cases(const conf_options_t *o, case_entry_t **out, int *count)
{
    conf_error_t err;
    char **names = NULL;
    int n = o->num_case_dirs;
    if (!n && case_discover(o->data_dir, &names, &n, &err)) {
        fprintf(stderr, "conformance: %s\n", err.text);
        return -1;
    }
    case_entry_t *cases = calloc((size_t)(n ? n : 1), sizeof *cases);
    int kept = 0, oom = !cases;
    for (int i = 0; !oom && i < n; ++i) {
        char *dir = names ? join(o->data_dir, names[i]) : strdup(o->case_dirs[i]);
        if (!(oom = !dir)) {
            for (size_t len = strlen(dir); len > 1 && dir[len - 1] == '/';)
                dir[--len] = '\0';
            char *name = names ? strdup(names[i]) : unique_name(cases, kept, dir);
            if (!(oom = !name) && matches(o, name)) {
                cases[kept++] = (case_entry_t){name, dir};
                continue;
            }
            free(name);
        }
        free(dir);
    }
    case_names_free(names, names ? n : 0);
    if (oom) {
        fprintf(stderr, "conformance: out of memory listing cases\n");
        for (int i = 0; i < kept; ++i) {
            free(cases[i].name);
            free(cases[i].dir);
        }
        free(cases);
        return -1;
    }
    *out = cases;
    *count = kept;
    return 0;
}

static void free_cases(case_entry_t *cases, int n)
{
    for (int i = 0; i < n; ++i) {
        free(cases[i].name);
        free(cases[i].dir);
    }
    free(cases);
}

static int name_width(const case_entry_t *cases, int n)
{
    int w = 4;
    for (int i = 0; i < n; ++i)
        if ((int)strlen(cases[i].name) > w)
            w = (int)strlen(cases[i].name);
    return w > 48 ? 48 : w;
}

/* ---------------------------------------------------------------- one check */
static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* "[k/N] name" on stderr once the run has lasted a couple of seconds, then every couple. */
static void progress(int k, int n, const char *name, double start)
{
    static double last;
    double now = now_seconds();
    if (now - start < 2.0 || now - last < 2.0)
        return;
    last = now;
    fprintf(stderr, "conformance: [%d/%d] %s (%.0f s)\n", k, n, name, now - start);
}

/* Compares a run (or what was read) of case c, then dumps, plots and reports it under label;
 * returns -1 on an I/O error of --dump or --plot. */
static int check_run(const conf_options_t *o, conf_report_t *rep, const conf_case_t *c,
                     const char *label, conf_run_t *run, const char *detail)
{
    conf_compare_t *tensors = NULL;
    int num_tensors = 0, io_error = 0;
    conf_case_result_t res = {c->name, label, CONF_PASS, NULL, detail, NULL, 0, run->seconds, 0};
    conf_tolerance_t tol =
        tolerance_apply(tolerance_default(c->cfg.dtype, c->cfg.p_dropout), &c->cfg.tolerance);
    int compare = run->status == CONF_RUN_OK || run->forward_only;
    if (!compare) {
        res.verdict = run->status == CONF_RUN_SKIPPED ? CONF_SKIP : CONF_FAIL;
        res.message = run->message;
    } else if (compare_run(c, run, &tol, &tensors, &num_tensors)) {
        res.verdict = CONF_ERROR;
        res.message = "out of memory comparing the outputs";
    } else {
        /* forward_only: a skip (no backward) unless the forward's outputs fail */
        res.verdict = report_verdict(tensors, num_tensors);
        res.partial = run->forward_only;
        if (run->forward_only && res.verdict == CONF_PASS)
            res.verdict = CONF_SKIP;
        res.message = res.verdict == CONF_SKIP ? run->message : NULL;
        res.tensors = tensors;
        res.num_tensors = num_tensors;
    }
    conf_error_t err;
    if (o->dump && compare && dump_run(o->dump, c, run, &err)) {
        fprintf(stderr, "conformance: --dump: %s\n", err.text);
        io_error = 1;
    }
    if (o->plot && plot_run(o->plot, label, c, run, tensors, num_tensors, &err)) {
        fprintf(stderr, "conformance: --plot: %s\n", err.text);
        io_error = 1;
    }
    report_case(rep, &res);
    free(tensors);
    return io_error ? -1 : 0;
}

/* Runs case c on a backend and checks it. */
static int check_backend(const conf_options_t *o, conf_report_t *rep, const conf_case_t *c,
                         pattnBackend_t backend, const char *detail)
{
    conf_run_t run;
    report_running(rep, c->name, pattnBackendName(backend));
    run_case(c, backend, &run);
    char with_transport[900];
    if (run.transport[0]) { /* a GPU ring: say which transport ran it */
        static int told;
        if (!told++)
            report_note(rep, "GPU rings run one thread per member over the %s transport",
                        run.transport);
        snprintf(with_transport, sizeof with_transport, "%s; ring transport: %s", detail ? detail : "",
                 run.transport);
        detail = with_transport;
    }
    int rc = check_run(o, rep, c, pattnBackendName(backend), &run, detail);
    run_free(&run);
    return rc;
}

/* Reads and checks every output folder of case c under --outputs; a case without one is a
 * skip, an unreadable output an error. */
static int check_outputs(const conf_options_t *o, conf_report_t *rep, const conf_case_t *c,
                         const char *detail)
{
    char **labels;
    int n, io_error = 0;
    conf_error_t err;
    if (outputs_labels(o->outputs, c->name, &labels, &n, &err)) {
        conf_case_result_t res = {c->name, "outputs", CONF_ERROR, err.text, detail, NULL, 0, 0, 0};
        report_case(rep, &res);
        return -1;
    }
    if (n == 0) {
        char why[4400];
        snprintf(why, sizeof why, "no outputs: no folder under %s/<case>/", o->outputs);
        conf_case_result_t res = {c->name, "outputs", CONF_SKIP, why, detail, NULL, 0, 0, 0};
        report_case(rep, &res);
    }
    for (int i = 0; i < n; ++i) {
        char *folder = join(o->outputs, c->name), *sub = folder ? join(folder, labels[i]) : NULL;
        conf_run_t run;
        if (!sub || outputs_read(sub, c, &run, &err)) {
            conf_case_result_t res = {c->name, labels[i], CONF_ERROR,
                                      sub ? err.text : "out of memory", detail, NULL, 0, 0, 0};
            report_case(rep, &res);
            io_error = 1;
        } else {
            io_error |= check_run(o, rep, c, labels[i], &run, detail) != 0;
            run_free(&run);
        }
        free(folder);
        free(sub);
    }
    case_names_free(labels, n);
    return io_error ? -1 : 0;
}

/* ---------------------------------------------------------------- the verdict of a run */
/* The backends of o that can run here; the others are noted (and make *unavailable 1). */
static int usable_backends(const conf_options_t *o, conf_report_t *rep, pattnBackend_t *usable,
                           int *unavailable)
{
    int n = 0;
    for (int b = 0; b < o->num_backends; ++b) {
        const conf_memspace_t *ms = memspace_for(o->backends[b]);
        conf_error_t why;
        if (!ms)
            snprintf(why.text, sizeof why.text, "this build has no %s backend (configure with "
                     "nvcc on PATH, -DPATTN_CUDA=ON)", pattnBackendName(o->backends[b]));
        if (!ms || ms->available(&why)) {
            report_note(rep, "the %s backend cannot run here: %s",
                        pattnBackendName(o->backends[b]), why.text);
            *unavailable = 1;
        } else {
            usable[n++] = o->backends[b];
            if (pattnBackendInfo(o->backends[b])) /* which BLAS the reference loaded, say */
                report_note(rep, "%s: %s", pattnBackendName(o->backends[b]),
                            pattnBackendInfo(o->backends[b]));
        }
    }
    return n;
}

/* Notes every backend that checked nothing or skipped more than it checked; returns 1 when
 * there is one. */
static int checked_too_little(conf_report_t *rep)
{
    int too_little = 0;
    for (int i = 0; i < rep->num_tallies; ++i) {
        const conf_tally_t *t = &rep->tallies[i];
        int checked = t->passed + t->failed + t->partial, skipped = t->skipped - t->partial;
        if (t->passed + t->failed + t->skipped == 0)
            continue; /* errors only (a case that did not load): exit flag 4 says it */
        if (checked == 0 || skipped > checked) {
            report_note(rep, "%s checked too little: %d cases checked, %d skipped", t->backend,
                        checked, skipped);
            too_little = 1;
        }
    }
    return too_little;
}

static int exit_status(const conf_options_t *o, conf_report_t *rep, int io_error,
                       int unavailable)
{
    int status = rep->failed ? CONF_EXIT_FAILED : CONF_EXIT_PASSED;
    if (io_error || rep->errors)
        status |= CONF_EXIT_IO;
    int skip_flags = (checked_too_little(rep) ? CONF_EXIT_TOO_LITTLE : 0) |
                     (unavailable ? CONF_EXIT_UNAVAILABLE : 0);
    const char *why = skip_flags == CONF_EXIT_UNAVAILABLE ? "a backend asked for cannot run here"
                      : skip_flags == CONF_EXIT_TOO_LITTLE
                          ? "a backend checked too little"
                          : "a backend checked too little and one cannot run here";
    if (skip_flags && o->allow_skip)
        report_note(rep, "--allow-skip: accepted, although %s", why);
    else if (skip_flags)
        report_note(rep, "not a pass: %s (exit %d; --allow-skip accepts it)", why,
                    status | skip_flags);
    return status | (o->allow_skip ? 0 : skip_flags);
}

/* ---------------------------------------------------------------- golden cases */
static int run_golden(const conf_options_t *o)
{
    case_entry_t *cases;
    int n, io_error = 0, unavailable = 0;
    if (collect_cases(o, &cases, &n))
        return CONF_EXIT_USAGE;
    if (o->list) {
        for (int i = 0; i < n; ++i)
            printf("%s\n", cases[i].name);
        free_cases(cases, n);
        return CONF_EXIT_PASSED;
    }
    if (n == 0) {
        fprintf(stderr, "conformance: no case %s under %s\n",
                o->num_filters ? "matches the --filter patterns" : "found",
                o->num_case_dirs ? "the --case folders" : o->data_dir);
        free_cases(cases, n);
        return CONF_EXIT_USAGE;
    }
    conf_report_t rep;
    conf_report_options_t ropt = {o->tap, o->verbose, o->junit, name_width(cases, n)};
    if (report_begin(&rep, &ropt, stdout)) {
        free_cases(cases, n);
        return CONF_EXIT_IO;
    }
    pattnBackend_t backends[2];
    int num_backends = o->outputs ? 0 : usable_backends(o, &rep, backends, &unavailable);
    double start = now_seconds();
    for (int i = 0; i < n && (num_backends || o->outputs); ++i) {
        progress(i + 1, n, cases[i].name, start);
        conf_case_t c;
        conf_error_t err;
        if (case_load(cases[i].dir, cases[i].name, &c, &err)) {
            conf_case_result_t res = {cases[i].name, "load", CONF_ERROR, err.text, NULL, NULL, 0,
                                      0, 0};
            report_case(&rep, &res);
            continue;
        }
        if (o->deterministic >= 0)
            c.cfg.deterministic = o->deterministic;
        char detail[700];
        snprintf(detail, sizeof detail, "source: %s", c.cfg.source[0] ? c.cfg.source : "-");
        if (o->outputs)
            io_error |= check_outputs(o, &rep, &c, detail) != 0;
        for (int b = 0; b < num_backends; ++b)
            io_error |= check_backend(o, &rep, &c, backends[b], detail) != 0;
        case_free(&c);
    }
    report_tallies(&rep);
    int status = exit_status(o, &rep, io_error, unavailable);
    if (report_end(&rep))
        status |= CONF_EXIT_IO;
    free_cases(cases, n);
    return status;
}

/* ---------------------------------------------------------------- --random */
/* Runs the reference on c and makes the oracle's arrays (and the reference's rng_state and,
 * unless the reference is the backend under test, its softmax) the expected arrays; on failure
 * fills res. */
static int expect_random(conf_case_t *c, pattnBackend_t under_test, conf_case_result_t *res,
                         char *message, size_t size)
{
    conf_run_t run;
    conf_compare_t *tensors = NULL;
    int num = 0, rc = -1;
    conf_error_t err;
    conf_tolerance_t tol = tolerance_default(c->cfg.dtype, c->cfg.p_dropout);
    run_case(c, PATTN_BACKEND_REFERENCE, &run);
    if (run.status != CONF_RUN_OK) {
        res->verdict = run.status == CONF_RUN_SKIPPED ? CONF_SKIP : CONF_FAIL;
        snprintf(message, size, "reference: %s", run.message);
    } else if (compare_run(c, &run, &tol, &tensors, &num) ||
               report_verdict(tensors, num) != CONF_PASS) {
        res->verdict = CONF_FAIL;
        snprintf(message, size, "reference: left output elements unwritten (NaN poison)");
    } else if (random_case_expect(c, &run, under_test != PATTN_BACKEND_REFERENCE, &err)) {
        res->verdict = CONF_FAIL;
        snprintf(message, size, "%s", err.text);
    } else {
        rc = 0;
    }
    free(tensors);
    run_free(&run);
    res->message = rc ? message : NULL;
    return rc;
}

static int run_random(const conf_options_t *o)
{
    unsigned long long seed = o->seed_given ? o->seed
                                            : (unsigned long long)time(NULL) * 2654435761ull;
    /* The backend under test: cuda where this build has it, unless --backend reference. */
    pattnBackend_t under_test = PATTN_BACKEND_REFERENCE;
#ifdef PATTN_HAVE_CUDA
    if (!(o->num_backends == 1 && o->backends[0] == PATTN_BACKEND_REFERENCE))
        under_test = PATTN_BACKEND_CUDA;
#endif
    const char *name = under_test == PATTN_BACKEND_CUDA ? "cuda" : "reference";
    conf_options_t one = *o;
    one.backends[0] = under_test;
    one.num_backends = 1;
    pattnBackend_t usable[2];
    int unavailable = 0;
    conf_report_t rep;
    conf_report_options_t ropt = {o->tap, o->verbose, o->junit, 10};
    if (report_begin(&rep, &ropt, stdout))
        return CONF_EXIT_IO;
    report_note(&rep, "random: the %s backend against the float64 oracle on %ld configurations, "
                "seed %llu (repeat: --random %ld --seed %llu); out and dqkv held to "
                "FlashAttention's rule measured per draw (2x / 3x the naive same-dtype model's "
                "error, plus rounding noise)",
                name, o->random_count, seed, o->random_count, seed);
    int usable_one = usable_backends(&one, &rep, usable, &unavailable) == 1;
    if (!usable_one)
        report_note(&rep, "random: the %s backend cannot run here", name);
    int io_error = 0;
    double start = now_seconds();
    for (long i = 0; usable_one && i < o->random_count; ++i) {
        conf_case_t c;
        conf_error_t why;
        char summary[512], message[1600];
        if (random_case_make(seed, (int)i, &c, summary, sizeof summary, &why)) {
            fprintf(stderr, "conformance: %s\n", why.text);
            io_error = 1;
            break;
        }
        progress((int)i + 1, (int)o->random_count, c.name, start);
        report_note(&rep, "%s: %s", c.name, summary);
        conf_case_result_t res = {c.name, name, CONF_SKIP, NULL, summary, NULL, 0, 0, 0};
        if (expect_random(&c, under_test, &res, message, sizeof message))
            report_case(&rep, &res);
        else
            io_error |= check_backend(o, &rep, &c, under_test, summary) != 0;
        case_free(&c);
    }
    report_tallies(&rep);
    int status = exit_status(o, &rep, io_error, unavailable);
    if (report_end(&rep))
        status |= CONF_EXIT_IO;
    return status;
}

int main(int argc, char **argv)
{
    conf_options_t o;
    int rc = options_parse(argc, argv, &o);
    if (rc == 0)
        rc = o.random_count >= 0 ? run_random(&o) : run_golden(&o);
    else if (rc == 1)
        rc = CONF_EXIT_PASSED;
    options_free(&o);
    return rc;
}
