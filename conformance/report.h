/*
 * report.h: what the conformance program prints. Per case and backend, one row per tensor in
 * aligned columns (nccl-tests style): case, backend, tensor, max_abs, max_rel, worst index,
 * tol share, PASS/FAIL. --tap turns stdout into TAP version 13 (rows become comments, one test
 * point per case and backend), --junit FILE also writes JUnit XML, -v adds detail lines.
 * The last line is always `N passed, N failed` (`, N skipped` when any were skipped).
 */
#ifndef CONF_REPORT_H
#define CONF_REPORT_H

#include <stdio.h>

#include "compare.h"

typedef enum conf_verdict { CONF_PASS, CONF_FAIL, CONF_SKIP } conf_verdict_t;

typedef struct conf_report_options {
    int tap;
    int verbose;
    const char *junit_path; /* NULL: no JUnit file */
    int name_width;         /* width of the case column (the longest case name) */
} conf_report_options_t;

typedef struct conf_junit_entry conf_junit_entry_t;

typedef struct conf_report {
    conf_report_options_t opt;
    FILE *out;
    int passed, failed, skipped;
    conf_junit_entry_t *entries; /* kept for the JUnit file */
    int num_entries, cap_entries;
} conf_report_t;

/* One case on one backend: its verdict, a message (skip reason or failure, may be NULL),
 * the tensor comparisons, and the seconds the calls took. */
typedef struct conf_case_result {
    const char *case_name;
    const char *backend;
    conf_verdict_t verdict;
    const char *message;
    const char *detail; /* -v: extra line about the case (source, sizes), may be NULL */
    const conf_compare_t *tensors;
    int num_tensors;
    double seconds;
} conf_case_result_t;

void report_begin(conf_report_t *r, const conf_report_options_t *opt, FILE *out);
/* Prints a free line (a comment in TAP mode). */
void report_note(conf_report_t *r, const char *fmt, ...) CONF_PRINTF(2, 3);
void report_case(conf_report_t *r, const conf_case_result_t *res);
/* Prints the TAP plan, writes the JUnit file, prints the closing line; -1 when the JUnit file
 * could not be written (the message went to stderr). */
int report_end(conf_report_t *r);

/* PASS when every tensor passed, FAIL otherwise. */
conf_verdict_t report_verdict(const conf_compare_t *tensors, int num_tensors);

#endif /* CONF_REPORT_H */
