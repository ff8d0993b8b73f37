/*
 * bench_report.h: pattn-bench's output: an nccl-tests-like table on stdout (a '#' header, one
 * line per row with its #wrong, the out-of-bounds total and a closing summary line) and, with
 * --json, the same rows as JSON with the library version, git commit, time, card and driver.
 */
#ifndef PATTN_BENCH_REPORT_H
#define PATTN_BENCH_REPORT_H

#include <stdio.h>

#include "bench_case.h"
#include "bench_machine.h"
#include "bench_options.h"

typedef struct bench_report {
    const bench_options_t *opts;
    FILE *json;
    int json_rows;
    int rows, ok, failed, unsupported;
    int64_t wrong, checked; /* over the checked rows */
    int wrong_rows;
    double tflops_sum, tflops_best;
    int ratio_count;
    double ratio_sum, ratio_min;
    double peak_rss_max;
} bench_report_t;

/* Prints the header (command line, machine, columns) and opens the JSON file. Returns 0, or 2
 * when the JSON file cannot be written. */
int bench_report_open(bench_report_t *report, const bench_options_t *opts, int argc, char **argv,
                      const bench_machine_t *machine);

void bench_report_row(bench_report_t *report, const bench_case_t *c, const bench_result_t *res);

/* Prints the summary lines and closes the JSON file. Returns the exit status: 0 when no row
 * failed or was wrong and at least one ran (unsupported rows are skips), 1 otherwise, 2 when
 * the JSON file could not be written. */
int bench_report_close(bench_report_t *report);

#endif /* PATTN_BENCH_REPORT_H */
