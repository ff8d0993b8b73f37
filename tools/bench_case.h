/*
 * bench_case.h: one row of pattn-bench (a shape, dtype and mask), what every backend's runner
 * shares (the pattnParams_t, the FLOP count, random inputs, the timing loop), and the result.
 */
#ifndef PATTN_BENCH_CASE_H
#define PATTN_BENCH_CASE_H

#include <stdint.h>

#include "parallel_attn.h"

typedef struct bench_case {
    pattnDtype_t dtype;
    int causal;
    int64_t batch, seqlen, heads, kv_heads, head_dim;
    double dropout;
    int backward; /* the timed call is a forward then a backward */
    int deterministic; /* the backward's mode */
    int ring;     /* members of a ring (--ring; seqlen is each member's), 0: one rank */
} bench_case_t;

typedef struct bench_result {
    pattnResult_t status;
    char message[512];   /* why the row failed */
    double median_ms;    /* of the timed calls */
    double min_ms;
    double bwd_median_ms; /* --backward: of the backward alone, timed after; NAN: not measured */
    /* --ring: member 0's forward as its ring profiles it (dist/ring_profile.h) */
    int ring_steps;
    double ring_compute_ms, ring_hop_ms, ring_bytes; /* over the steps */
    double ring_hidden; /* the share of the transfers' time hidden behind compute */
    double sgemm_gflops; /* NAN when not measured */
    double peak_rss_mib;  /* MiB (getrusage maxrss); NAN when not measured */
    int64_t checked;      /* output elements compared with the reference; -1: not checked */
    int64_t wrong;        /* of those, beyond the conformance tolerance (nccl-tests' #wrong) */
} bench_result_t;

/* The pattnParams_t of c (not packed, one rank); seq_lens and cp_groups must outlive params. */
void bench_case_params(const bench_case_t *c, pattnParams_t *params, int64_t *seq_lens,
                       int64_t *cp_groups);

/* FlashAttention's convention: 4 * B * L * L * Hq * D, halved when causal; with the backward
 * 3.5 times that (the backward counts 2.5 forwards). A ring of n members: one member's share of
 * the ring's global sequence n L, n times a single rank of length L. */
double bench_case_flops(const bench_case_t *c);

/* Whether the sizes of c fit the int64 element counts below (and size_t byte counts); a row
 * that does not is reported as invalid instead of being run. */
int bench_case_fits(const bench_case_t *c);

int64_t bench_case_qkv_elems(const bench_case_t *c);
int64_t bench_case_out_elems(const bench_case_t *c);
int64_t bench_case_lse_elems(const bench_case_t *c);

/* The row's dout: what the backward of a row takes, the same for every runner. */
void bench_fill_dout(const bench_case_t *c, void *dout, uint64_t seed);

/* Fills count elements of dtype with uniform values in [-1, 1) from seed. */
void bench_fill_random(pattnDtype_t dtype, void *buffer, int64_t count, uint64_t seed);

/* Wall-clock milliseconds from a monotonic clock. */
double bench_now_ms(void);

/* Records a failure in res: status and a formatted message. Returns status. */
pattnResult_t bench_fail(bench_result_t *res, pattnResult_t status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* FlashAttention's TFLOP/s of a row: bench_case_flops / median time. */
double bench_case_tflops(const bench_case_t *c, const bench_result_t *res);
/* The backward's own TFLOP/s (2.5 forwards / bwd_median_ms): NAN when it was not timed. */
double bench_case_bwd_tflops(const bench_case_t *c, const bench_result_t *res);

/* One call to time: runs the work once and writes its time in ms; a failure is recorded in res
 * and returned. */
typedef pattnResult_t (*bench_timed_call_fn)(void *ctx, bench_result_t *res, double *ms);

/* warmup untimed calls, then iters timed ones; writes the median and the minimum time in ms.
 * Stops at the first failure and returns it. */
pattnResult_t bench_time_calls(bench_timed_call_fn call, void *ctx, int warmup, int iters,
                               bench_result_t *res, double *median_ms, double *min_ms);

#endif /* PATTN_BENCH_CASE_H */
