/*
 * report.h: what the conformance program prints. Per case and backend, one row per tensor in
 * aligned columns (nccl-tests style): case, backend, tensor, max_abs, max_rel, worst index,
 * tol share, PASS/FAIL. --tap turns stdout into TAP version 13 (rows become comments, one test
 * point per case and backend, a YAML block per failure, the plan last), --junit FILE also
 * writes JUnit XML (junit.h), -v adds detail lines. A skip reason is printed once per backend;
 * the closing lines count each backend's checks and skips, and the last line is always
 * `N passed, N failed` (`, N skipped` when any were skipped; errors count as failed), a TAP
 * comment in TAP mode.
 */
#ifndef CONF_REPORT_H
#define CONF_REPORT_H

#include <stdio.h>

#include "compare.h"
#include "junit.h"

/* One backend's (or --outputs label's) tally: what it checked and what it skipped. */
typedef struct conf_tally {
    char backend[64];
    int passed, failed, errors, skipped;
    int partial; /* of the skipped: the forward was checked, the backward was not */
} conf_tally_t;

/* A skip reason and how often it was given, per backend. */
typedef struct conf_skip_reason {
    char backend[64];
    char reason[256];
    int count;
} conf_skip_reason_t;

#define CONF_MAX_TALLIES 16
#define CONF_MAX_SKIP_REASONS 32

typedef struct conf_report_options {
    int tap;
    int verbose;
    const char *junit_path; /* NULL: no JUnit file */
    int name_width;         /* width of the case column (the longest case name) */
} conf_report_options_t;

typedef struct conf_report {
    conf_report_options_t opt;
    FILE *out;
    int passed, failed, errors, skipped;
    conf_junit_t junit;
    int junit_failed; /* the JUnit file could not be written at some point */
    conf_tally_t tallies[CONF_MAX_TALLIES];
    int num_tallies;
    conf_skip_reason_t reasons[CONF_MAX_SKIP_REASONS];
    int num_reasons;
} conf_report_t;

/* One case on one backend: its verdict, a message (skip reason, failure or error; may be
 * NULL), the tensor comparisons, and the seconds the calls took. */
typedef struct conf_case_result {
    const char *case_name;
    const char *backend;
    conf_verdict_t verdict;
    const char *message;
    const char *detail; /* -v: extra line about the case (source, sizes), may be NULL */
    const conf_compare_t *tensors;
    int num_tensors;
    double seconds;
    int partial; /* a SKIP whose forward outputs were checked (and passed) */
} conf_case_result_t;

/* Prints the header and creates the JUnit file (an empty, valid report). Returns -1 when the
 * JUnit file cannot be created (the message went to stderr); nothing has run then. */
int report_begin(conf_report_t *r, const conf_report_options_t *opt, FILE *out);
/* Prints a free line (a comment in TAP mode). */
void report_note(conf_report_t *r, const char *fmt, ...) CONF_PRINTF(2, 3);
/* Marks case_name on backend as running in the JUnit file (a crash leaves it as an error). */
void report_running(conf_report_t *r, const char *case_name, const char *backend);
/* Prints one result and rewrites the JUnit file with every result so far. */
void report_case(conf_report_t *r, const conf_case_result_t *res);
/* Prints each backend's tally (checked, skipped, and each skip reason with its count). */
void report_tallies(conf_report_t *r);
/* Prints the closing line and the TAP plan, and releases the report; -1 when the JUnit file
 * could not be written at some point. */
int report_end(conf_report_t *r);

/* PASS when every tensor passed, FAIL otherwise. */
conf_verdict_t report_verdict(const conf_compare_t *tensors, int num_tensors);

#endif /* CONF_REPORT_H */
