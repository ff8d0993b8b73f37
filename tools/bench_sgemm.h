/*
 * bench_sgemm.h: the CPU yardstick for the reference backend: cblas_sgemm doing the same number
 * of FLOPs as an attention forward, on square matrices (capped in size, then repeated).
 */
#ifndef PATTN_BENCH_SGEMM_H
#define PATTN_BENCH_SGEMM_H

#include <stdint.h>

#include "bench_case.h"

/* Largest side of the square sgemm: 3 fp32 matrices of 2048^2 take 48 MB. */
#define BENCH_SGEMM_MAX_N 2048

/* Times sgemm work of about flops FLOPs on random inputs from seed, iters times after one
 * untimed n x n call, and sets res->sgemm_gflops from the median; a failure is recorded in res
 * and returned. */
pattnResult_t bench_sgemm_rate(double flops, int iters, uint64_t seed, bench_result_t *res);

#endif /* PATTN_BENCH_SGEMM_H */
