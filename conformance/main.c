/*
 * main.c: the `conformance` program (SPEC section 6). Runs golden cases on every backend this
 * build has and compares them with the expected arrays, or (--random N) cross-checks the cuda
 * backend against the reference on random configurations. Exit status: 0 when nothing failed,
 * 1 when something failed, 2 on a usage or I/O error.
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
#include "random_case.h"
#include "report.h"
#include "run.h"

#ifndef CONF_DEFAULT_DATA_DIR
#define CONF_DEFAULT_DATA_DIR "data"
#endif

enum { EXIT_PASSED = 0, EXIT_FAILED = 1, EXIT_USAGE = 2 };

typedef struct options {
    const char *data_dir;
    const char **case_dirs;
    int num_case_dirs;
    pattnBackend_t backends[2];
    int num_backends;
    const char *filter;
    int list, tap, verbose;
    const char *junit, *dump;
    long random_count; /* -1: golden cases */
    unsigned long long seed;
    int seed_given;
} options_t;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: conformance [options]\n"
            "Runs golden cases (SPEC section 6) on the backends of this build and compares them.\n"
            "  --data DIR        folder of case folders (default %s)\n"
            "  --case DIR        run this case folder (repeatable; replaces --data)\n"
            "  --backend NAME    reference, cuda or all (default all: every backend built)\n"
            "  --filter PATTERN  only cases whose name matches (fnmatch, e.g. 'ring*')\n"
            "  --list            list the cases and exit\n"
            "  --tap             TAP version 13 on stdout\n"
            "  --junit FILE      also write JUnit XML to FILE\n"
            "  -v                more detail per tensor and case\n"
            "  --dump DIR        write what each backend computed to DIR/<case>/<backend>/\n"
            "  --random N        cross-check cuda against the reference on N random configs\n"
            "  --transport T     the GPU ring's transport: auto (default), local or nccl\n"
            "  --seed S          the seed of --random (default: from the clock, printed)\n"
            "  -h, --help        this text\n"
            "Exit status: 0 nothing failed, 1 something failed, 2 usage or I/O error.\n",
            CONF_DEFAULT_DATA_DIR);
}

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "conformance: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see conformance --help)\n");
    return -1;
}

/* The value of option argv[*i] ("--x VALUE" or "--x=VALUE"), or NULL when argv[*i] is not
 * option name. */
static const char *option_value(int argc, char **argv, int *i, const char *name, int *missing)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0)
        return NULL;
    if (argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (argv[*i][n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        *missing = 1;
        return NULL;
    }
    return argv[++*i];
}

static int parse_backend(options_t *o, const char *v)
{
    o->num_backends = 0;
    if (!strcmp(v, "reference") || !strcmp(v, "all"))
        o->backends[o->num_backends++] = PATTN_BACKEND_REFERENCE;
    if (!strcmp(v, "cuda") || (!strcmp(v, "all") && pattnBackendAvailable(PATTN_BACKEND_CUDA)))
        o->backends[o->num_backends++] = PATTN_BACKEND_CUDA;
    if (!strcmp(v, "reference") || !strcmp(v, "cuda") || !strcmp(v, "all"))
        return 0;
    return usage_error("--backend %s: expected reference, cuda or all", v);
}

static int parse_count(const char *v, const char *what, unsigned long long *out)
{
    char *end;
    if (!(*v >= '0' && *v <= '9'))
        return usage_error(what, v);
    *out = strtoull(v, &end, 10);
    return *end ? usage_error(what, v) : 0;
}

static int parse_options(int argc, char **argv, options_t *o)
{
    memset(o, 0, sizeof *o);
    o->data_dir = CONF_DEFAULT_DATA_DIR;
    o->random_count = -1;
    if (!(o->case_dirs = calloc((size_t)argc, sizeof *o->case_dirs)))
        return usage_error("%s", "out of memory");
    parse_backend(o, "all");
    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i], *v;
        int missing = 0;
        unsigned long long n;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(EXIT_PASSED);
        } else if (!strcmp(a, "--list")) {
            o->list = 1;
        } else if (!strcmp(a, "--tap")) {
            o->tap = 1;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            o->verbose = 1;
        } else if ((v = option_value(argc, argv, &i, "--data", &missing))) {
            o->data_dir = v;
        } else if ((v = option_value(argc, argv, &i, "--case", &missing))) {
            o->case_dirs[o->num_case_dirs++] = v;
        } else if ((v = option_value(argc, argv, &i, "--backend", &missing))) {
            if (parse_backend(o, v))
                return -1;
        } else if ((v = option_value(argc, argv, &i, "--filter", &missing))) {
            o->filter = v;
        } else if ((v = option_value(argc, argv, &i, "--junit", &missing))) {
            o->junit = v;
        } else if ((v = option_value(argc, argv, &i, "--dump", &missing))) {
            o->dump = v;
        } else if ((v = option_value(argc, argv, &i, "--random", &missing))) {
            if (parse_count(v, "--random %s: expected a number of configurations", &n))
                return -1;
            o->random_count = (long)n;
        } else if ((v = option_value(argc, argv, &i, "--transport", &missing))) {
            if (strcmp(v, "auto") && strcmp(v, "local") && strcmp(v, "nccl"))
                return usage_error("--transport %s: expected auto, local or nccl", v);
            conf_ring_transport = v;
        } else if ((v = option_value(argc, argv, &i, "--seed", &missing))) {
            if (parse_count(v, "--seed %s: expected an unsigned integer", &o->seed))
                return -1;
            o->seed_given = 1;
        } else {
            return usage_error(missing ? "%s: expected a value after it" : "%s: unknown option",
                               a);
        }
    }
    if (o->seed_given && o->random_count < 0)
        return usage_error("%s: only meaningful with --random N", "--seed");
    if (o->random_count >= 0 && (o->num_case_dirs || o->list || o->filter))
        return usage_error("%s: cannot be combined with --case, --list or --filter", "--random");
    return 0;
}

/* ---------------------------------------------------------------- golden cases */
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

/* The cases to run: the --case folders, or every case under --data; then --filter. */
static int collect_cases(const options_t *o, case_entry_t **out, int *count)
{
    conf_error_t err;
    char **names = NULL;
    int n = 0;
    case_entry_t *cases = NULL;
    if (o->num_case_dirs) {
        n = o->num_case_dirs;
        names = calloc((size_t)n, sizeof *names);
        cases = calloc((size_t)n, sizeof *cases);
        for (int i = 0; names && cases && i < n; ++i) {
            char *dir = strdup(o->case_dirs[i]);
            if (!dir)
                break;
            size_t len = strlen(dir);
            while (len > 1 && dir[len - 1] == '/')
                dir[--len] = '\0';
            const char *base = strrchr(dir, '/');
            names[i] = strdup(base ? base + 1 : dir);
            cases[i].dir = dir;
        }
    } else {
        if (case_discover(o->data_dir, &names, &n, &err)) {
            fprintf(stderr, "conformance: %s\n", err.text);
            return -1;
        }
        cases = calloc((size_t)(n ? n : 1), sizeof *cases);
        for (int i = 0; cases && i < n; ++i)
            cases[i].dir = join(o->data_dir, names[i]);
    }
    int kept = 0;
    for (int i = 0; cases && names && i < n; ++i) {
        if (!names[i] || !cases[i].dir) {
            fprintf(stderr, "conformance: out of memory listing cases\n");
            return -1;
        }
        if (o->filter && fnmatch(o->filter, names[i], 0) != 0) {
            free(cases[i].dir);
            free(names[i]);
            continue;
        }
        cases[kept].dir = cases[i].dir;
        cases[kept++].name = names[i];
    }
    free(names);
    if (!cases) {
        fprintf(stderr, "conformance: out of memory listing cases\n");
        return -1;
    }
    *out = cases;
    *count = kept;
    return 0;
}

static int name_width(const case_entry_t *cases, int n)
{
    int w = 4;
    for (int i = 0; i < n; ++i)
        if ((int)strlen(cases[i].name) > w)
            w = (int)strlen(cases[i].name);
    return w > 48 ? 48 : w;
}

/* Runs, compares, dumps and reports case c on one backend; returns -1 on an I/O error. */
static int check_backend(const options_t *o, conf_report_t *rep, const conf_case_t *c,
                         pattnBackend_t backend, const char *detail)
{
    conf_run_t run;
    conf_compare_t *tensors = NULL;
    int num_tensors = 0, io_error = 0;
    conf_case_result_t res = {c->name, pattnBackendName(backend), CONF_PASS, NULL, detail,
                              NULL, 0, 0.0};
    conf_tolerance_t tol =
        tolerance_apply(tolerance_default(c->cfg.dtype, c->cfg.p_dropout), &c->cfg.tolerance);
    run_case(c, backend, &run);
    res.seconds = run.seconds;
    char with_transport[900];
    if (run.transport[0]) { /* a GPU ring: say which transport ran it */
        static int told;
        if (!told++)
            report_note(rep, "GPU rings run one thread per member over the %s transport",
                        run.transport);
        snprintf(with_transport, sizeof with_transport, "%s; ring transport: %s", detail ? detail : "",
                 run.transport);
        res.detail = with_transport;
    }
    int compare = run.status == CONF_RUN_OK || run.forward_only;
    if (!compare) {
        res.verdict = run.status == CONF_RUN_SKIPPED ? CONF_SKIP : CONF_FAIL;
        res.message = run.message;
    } else if (compare_run(c, &run, &tol, &tensors, &num_tensors)) {
        res.verdict = CONF_FAIL;
        res.message = "out of memory comparing the outputs";
    } else {
        /* forward_only: a skip (no backward) unless the forward's outputs fail */
        res.verdict = report_verdict(tensors, num_tensors);
        if (run.forward_only && res.verdict == CONF_PASS)
            res.verdict = CONF_SKIP;
        res.message = res.verdict == CONF_SKIP ? run.message : NULL;
        res.tensors = tensors;
        res.num_tensors = num_tensors;
    }
    conf_error_t err;
    if (o->dump && compare && dump_run(o->dump, c, &run, &err)) {
        fprintf(stderr, "conformance: --dump: %s\n", err.text);
        io_error = 1;
    }
    report_case(rep, &res);
    free(tensors);
    run_free(&run);
    return io_error ? -1 : 0;
}

static int run_golden(const options_t *o)
{
    case_entry_t *cases;
    int n, io_error = 0;
    if (collect_cases(o, &cases, &n))
        return EXIT_USAGE;
    if (o->list) {
        for (int i = 0; i < n; ++i)
            printf("%s\n", cases[i].name);
        return EXIT_PASSED;
    }
    if (n == 0) {
        fprintf(stderr, "conformance: no case %s%s under %s\n", o->filter ? "matches " : "found",
                o->filter ? o->filter : "", o->num_case_dirs ? "the --case folders" : o->data_dir);
        return EXIT_USAGE;
    }
    conf_report_t rep;
    conf_report_options_t ropt = {o->tap, o->verbose, o->junit, name_width(cases, n)};
    report_begin(&rep, &ropt, stdout);
    for (int i = 0; i < n; ++i) {
        conf_case_t c;
        conf_error_t err;
        if (case_load(cases[i].dir, cases[i].name, &c, &err)) {
            conf_case_result_t res = {cases[i].name, "-", CONF_FAIL, err.text, NULL, NULL, 0, 0};
            report_case(&rep, &res);
            io_error = 1;
            continue;
        }
        char detail[700];
        snprintf(detail, sizeof detail, "source: %s", c.cfg.source[0] ? c.cfg.source : "-");
        for (int b = 0; b < o->num_backends; ++b)
            if (check_backend(o, &rep, &c, o->backends[b], detail))
                io_error = 1;
        case_free(&c);
    }
    if (report_end(&rep))
        io_error = 1;
    int failed = rep.failed;
    for (int i = 0; i < n; ++i) {
        free(cases[i].name);
        free(cases[i].dir);
    }
    free(cases);
    return io_error ? EXIT_USAGE : failed ? EXIT_FAILED : EXIT_PASSED;
}

/* ---------------------------------------------------------------- --random */
/* Runs the reference on c and makes its outputs the expected arrays; on failure fills res. */
static int reference_as_expected(conf_case_t *c, conf_case_result_t *res, char *message,
                                 size_t size)
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
    } else if (random_case_expect(c, &run, &err)) {
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

static int run_random(const options_t *o)
{
    unsigned long long seed = o->seed_given ? o->seed
                                            : (unsigned long long)time(NULL) * 2654435761ull;
    conf_error_t why;
    const conf_memspace_t *cuda = memspace_for(PATTN_BACKEND_CUDA);
    int have_cuda = cuda && cuda->available(&why) == 0;
    if (!cuda)
        snprintf(why.text, sizeof why.text, "this build has no cuda backend");
    /* Backward configurations only where the backend has a backward to cross-check. */
#ifdef PATTN_HAVE_CUDA
    int with_backward = pattn_cuda_backend.backward != NULL;
#else
    int with_backward = 1;
#endif
    conf_report_t rep;
    conf_report_options_t ropt = {o->tap, o->verbose, o->junit, 10};
    report_begin(&rep, &ropt, stdout);
    report_note(&rep, "random: %ld configurations, seed %llu (repeat: --random %ld --seed %llu)",
                o->random_count, seed, o->random_count, seed);
    int io_error = 0;
    for (long i = 0; i < o->random_count; ++i) {
        conf_case_t c;
        char summary[512], message[1600];
        if (random_case_make(seed, (int)i, with_backward, &c, summary, sizeof summary, &why)) {
            fprintf(stderr, "conformance: %s\n", why.text);
            io_error = 1;
            break;
        }
        report_note(&rep, "%s: %s", c.name, summary);
        conf_case_result_t res = {c.name, "cuda", CONF_SKIP, why.text, summary, NULL, 0, 0};
        if (!have_cuda || reference_as_expected(&c, &res, message, sizeof message))
            report_case(&rep, &res);
        else if (check_backend(o, &rep, &c, PATTN_BACKEND_CUDA, summary))
            io_error = 1;
        case_free(&c);
    }
    if (report_end(&rep))
        io_error = 1;
    return io_error ? EXIT_USAGE : rep.failed ? EXIT_FAILED : EXIT_PASSED;
}

int main(int argc, char **argv)
{
    options_t o;
    if (parse_options(argc, argv, &o)) {
        free(o.case_dirs);
        return EXIT_USAGE;
    }
    int rc = o.random_count >= 0 ? run_random(&o) : run_golden(&o);
    free(o.case_dirs);
    return rc;
}
