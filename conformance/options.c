/*
 * options.c: parsing the conformance program's command line (options.h) with getopt_long, so
 * short and long forms, --name=value and repeated options behave as in other tools.
 */
#define _POSIX_C_SOURCE 200809L
#include "options.h"
#include "run.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef CONF_DEFAULT_DATA_DIR
#define CONF_DEFAULT_DATA_DIR "data"
#endif
#ifndef PATTN_GIT_COMMIT
#define PATTN_GIT_COMMIT "unknown"
#endif

static void usage(FILE *f)
{
    fprintf(f,
            "usage: conformance [options]\n"
            "Runs golden cases (SPEC section 6) on the backends of this build and compares them.\n"
            "  -D, --data DIR        folder of case folders (default %s)\n"
            "  -c, --case DIR        run this case folder (repeatable; replaces --data)\n"
            "  -b, --backend NAME    reference, cuda or all (default all: every backend built)\n"
            "  -f, --filter PATTERN  only cases whose name matches (fnmatch, e.g. 'ring*');\n"
            "                        repeated: cases matching any of them\n"
            "  -l, --list            list the cases and exit\n"
            "  -t, --tap             TAP version 13 on stdout\n"
            "  -j, --junit FILE      also write JUnit XML to FILE (rewritten after every case)\n"
            "  -v, --verbose         more detail per tensor and case\n"
            "      --dump DIR        write what each backend computed to DIR/<case>/<backend>/\n"
            "  -o, --outputs DIR     check outputs computed elsewhere, laid out as --dump writes\n"
            "                        them (DIR/<case>/<label>/out.<p>.npy ...), instead of a backend\n"
            "  -p, --plot DIR        heat maps of each failing tensor's error, as PNG files\n"
            "                        DIR/<case>/<backend>/<tensor>.png\n"
            "  -r, --random N        check a backend against the float64 oracle on N random\n"
            "                        configs (cuda where built; --backend reference: the\n"
            "                        reference)\n"
            "  -s, --seed S          the seed of --random (default: from the clock, printed)\n"
            "      --transport T     the GPU ring's transport: auto (default: NCCL with a GPU per\n"
            "                        pipeline, else local), local or nccl\n"
            "      --deterministic 0|1  every case's backward in this mode (default: the case's\n"
            "                        own, 1 unless it says; 0 lets the GPU use atomics)\n"
            "      --allow-skip      exit 0 even when a backend checked nothing or skipped more\n"
            "                        than it checked, or cannot run here\n"
            "  -V, --version         the version and exit\n"
            "  -h, --help            this text\n"
            "Exit status, a sum of: 1 a check failed, 2 an I/O error (a case or output that could\n"
            "not be read, a report that could not be written) or a usage error (then alone:\n"
            "nothing ran), 8 a backend checked too little (nothing, or fewer cases than it\n"
            "skipped), 16 a backend asked for cannot run here. 0: everything asked for was\n"
            "checked and passed.\n",
            CONF_DEFAULT_DATA_DIR);
}

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "conformance: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see conformance --help)\n");
    return CONF_EXIT_USAGE;
}

static int parse_backend(conf_options_t *o, const char *v)
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

enum { OPT_DUMP = 256, OPT_ALLOW_SKIP, OPT_TRANSPORT, OPT_DETERMINISTIC };

static const struct option LONG_OPTIONS[] = {
    {"data", required_argument, NULL, 'D'},    {"case", required_argument, NULL, 'c'},
    {"backend", required_argument, NULL, 'b'}, {"filter", required_argument, NULL, 'f'},
    {"list", no_argument, NULL, 'l'},          {"tap", no_argument, NULL, 't'},
    {"junit", required_argument, NULL, 'j'},   {"verbose", no_argument, NULL, 'v'},
    {"dump", required_argument, NULL, OPT_DUMP}, {"outputs", required_argument, NULL, 'o'},
    {"plot", required_argument, NULL, 'p'},    {"random", required_argument, NULL, 'r'},
    {"seed", required_argument, NULL, 's'},    {"allow-skip", no_argument, NULL, OPT_ALLOW_SKIP},
    {"transport", required_argument, NULL, OPT_TRANSPORT},
    {"deterministic", required_argument, NULL, OPT_DETERMINISTIC},
    {"version", no_argument, NULL, 'V'},       {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};

/* Checks the options that exclude each other. */
static int check_combinations(const conf_options_t *o, int backend_given)
{
    if (o->seed_given && o->random_count < 0)
        return usage_error("%s: only meaningful with --random N", "--seed");
    if (o->random_count >= 0 && (o->num_case_dirs || o->list || o->num_filters || o->outputs))
        return usage_error("%s: cannot be combined with --case, --list, --filter or --outputs",
                           "--random");
    if (o->outputs && (backend_given || o->dump))
        return usage_error("%s: checks outputs computed elsewhere, so --backend and --dump do "
                           "not apply", "--outputs");
    return 0;
}

int options_parse(int argc, char **argv, conf_options_t *o)
{
    memset(o, 0, sizeof *o);
    o->data_dir = CONF_DEFAULT_DATA_DIR;
    o->random_count = -1;
    o->deterministic = -1;
    o->case_dirs = calloc((size_t)argc, sizeof *o->case_dirs);
    o->filters = calloc((size_t)argc, sizeof *o->filters);
    if (!o->case_dirs || !o->filters)
        return usage_error("%s", "out of memory");
    parse_backend(o, "all");
    int c, rc = 0, backend_given = 0;
    unsigned long long n;
    opterr = 0;
    while (!rc && (c = getopt_long(argc, argv, ":D:c:b:f:ltj:vo:p:r:s:Vh", LONG_OPTIONS, NULL)) !=
                      -1) {
        switch (c) {
        case 'D': o->data_dir = optarg; break;
        case 'c': o->case_dirs[o->num_case_dirs++] = optarg; break;
        case 'b':
            backend_given = 1;
            rc = parse_backend(o, optarg);
            break;
        case 'f': o->filters[o->num_filters++] = optarg; break;
        case 'l': o->list = 1; break;
        case 't': o->tap = 1; break;
        case 'j': o->junit = optarg; break;
        case 'v': o->verbose = 1; break;
        case OPT_DUMP: o->dump = optarg; break;
        case 'o': o->outputs = optarg; break;
        case 'p': o->plot = optarg; break;
        case 'r':
            if (!(rc = parse_count(optarg, "--random %s: expected a number of configurations", &n)))
                o->random_count = (long)n;
            break;
        case 's':
            rc = parse_count(optarg, "--seed %s: expected an unsigned integer", &o->seed);
            o->seed_given = 1;
            break;
        case OPT_ALLOW_SKIP: o->allow_skip = 1; break;
        case OPT_DETERMINISTIC:
            if (strcmp(optarg, "0") && strcmp(optarg, "1"))
                rc = usage_error("--deterministic %s: expected 0 or 1", optarg);
            o->deterministic = optarg[0] - '0';
            break;
        case OPT_TRANSPORT:
            if (strcmp(optarg, "auto") && strcmp(optarg, "local") && strcmp(optarg, "nccl"))
                rc = usage_error("--transport %s: expected auto, local or nccl", optarg);
            conf_ring_transport = optarg;
            break;
        case 'V':
            printf("conformance %d.%d (parallel_attn API %d, commit %s)\n", PATTN_VERSION_MAJOR,
                   PATTN_VERSION_MINOR, PATTN_API_VERSION, PATTN_GIT_COMMIT);
            return 1;
        case 'h': usage(stdout); return 1;
        case ':': rc = usage_error("%s: expected a value after it", argv[optind - 1]); break;
        default: rc = usage_error("%s: unknown option", argv[optind - 1]);
        }
    }
    if (!rc && optind < argc)
        rc = usage_error("%s: unexpected argument (options take the form --name VALUE)",
                         argv[optind]);
    return rc ? rc : check_combinations(o, backend_given);
}

void options_free(conf_options_t *o)
{
    free(o->case_dirs);
    free(o->filters);
    o->case_dirs = NULL;
    o->filters = NULL;
}
