/*
 * bench_runner.h: pattn-bench's backends. A runner allocates the row's buffers, fills them with
 * fresh random inputs, times pattnForward (warmup, then the median of iters) and fills the result.
 */
#ifndef PATTN_BENCH_RUNNER_H
#define PATTN_BENCH_RUNNER_H

#include "bench_case.h"
#include "bench_options.h"

/* Reference: host buffers, a monotonic clock around each call, the peak RSS of the row, the
 * check of the last output (opts->check), and (with opts->sgemm) a cblas_sgemm of the same FLOP
 * count timed right after. */
void bench_run_reference(const bench_case_t *c, const bench_options_t *opts, uint64_t seed,
                         bench_result_t *res);

/* Resets the process's peak RSS to its current RSS (Linux /proc/self/clear_refs), so that each
 * row's peak is its own. Returns 1 when it could, 0 when peaks accumulate over the process. */
int bench_reset_peak_rss(void);

#ifdef PATTN_HAVE_CUDA
/* CUDA: device buffers, CUDA events around each call on a stream set with pattnSetStream, the
 * last output copied back for the check (opts->check). */
void bench_run_cuda(const bench_case_t *c, const bench_options_t *opts, uint64_t seed,
                    bench_result_t *res);

/* --ring: a ring of opts->ring members on the GPUs (bench_ring.c); member 0 timed and profiled. */
void bench_run_ring(const bench_case_t *c, const bench_options_t *opts, uint64_t seed,
                    bench_result_t *res);

/* Writes the current device's name and memory into text ("no CUDA device: ..." otherwise), and
 * its name alone into name. */
void bench_describe_cuda_device(char *text, size_t size, char *name, size_t name_size);
#endif

#endif /* PATTN_BENCH_RUNNER_H */
