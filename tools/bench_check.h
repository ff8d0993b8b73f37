/*
 * bench_check.h: nccl-tests' #wrong for pattn-bench. After a row is timed, its last output is
 * compared with the reference backend's on a sample: sample 0 of the batch, and without dropout
 * only its first KV group (query heads 0 .. r-1 and KV head 0, a problem of its own since the
 * groups are independent); with dropout every head of sample 0, because the mask depends on the
 * head and the head count. Elements beyond the conformance tolerance (tolerance.h) are wrong.
 */
#ifndef PATTN_BENCH_CHECK_H
#define PATTN_BENCH_CHECK_H

#include <stdint.h>

#include "bench_case.h"

/* Host copies of what the row's last timed call read and wrote (dout, dqkv: backward rows). */
typedef struct bench_outputs {
    const void *qkv, *out;
    const float *lse;
    const int64_t *rng_state; /* the [seed, offset] the call returned */
    const void *dout, *dqkv;
} bench_outputs_t;

/* Sets res->checked and res->wrong; a reference that cannot run the sample fails the row. */
void bench_check_row(const bench_case_t *c, const bench_outputs_t *got, bench_result_t *res);

#endif /* PATTN_BENCH_CHECK_H */
