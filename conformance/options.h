/*
 * options.h: the command line of the conformance program (getopt_long; --help prints it) and
 * its exit status, a sum of the flags below (0: everything asked for was checked and passed;
 * a usage error is 2 alone, an I/O error 2 beside what else happened).
 */
#ifndef CONF_OPTIONS_H
#define CONF_OPTIONS_H

#include "parallel_attn.h"

enum conf_exit {
    CONF_EXIT_PASSED = 0,
    CONF_EXIT_FAILED = 1,      /* a check failed: a tensor beyond its tolerance, an element not
                                  written, a backend call that failed */
    CONF_EXIT_USAGE = 2,       /* a usage error (bad option, no case selected): nothing ran */
    CONF_EXIT_IO = 2,          /* an I/O error (SPEC: 2, as a usage error): a case or an output
                                  that could not be read, a report (--junit, --dump, --plot)
                                  that could not be written; with a failed check 1 + 2 = 3 */
    CONF_EXIT_TOO_LITTLE = 8,  /* a backend checked nothing, or skipped more than it checked */
    CONF_EXIT_UNAVAILABLE = 16 /* a backend asked for (or built, under --backend all) cannot run
                                  here: not built, or no usable device */
};

typedef struct conf_options {
    const char *data_dir;
    const char **case_dirs;
    int num_case_dirs;
    const char **filters; /* a case runs when its name matches any of them */
    int num_filters;
    pattnBackend_t backends[2];
    int num_backends;
    int list, tap, verbose, allow_skip;
    const char *junit, *dump, *outputs, *plot;
    long random_count; /* -1: golden cases */
    unsigned long long seed;
    int seed_given;
    int deterministic; /* -1: each case's own; 0 or 1: every case's backward mode */
} conf_options_t;

/* Parses argv. Returns 0 to run, 1 when --help or --version was printed, or CONF_EXIT_USAGE
 * after printing the problem to stderr. */
int options_parse(int argc, char **argv, conf_options_t *o);
void options_free(conf_options_t *o);

#endif /* CONF_OPTIONS_H */
