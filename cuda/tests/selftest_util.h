/*
 * selftest_util.h: what the standalone GPU test programs (cuda-selftest, ring-selftest) share:
 * the exit status of a skip, the check counters and record(), a splitmix64 stream, and a
 * calloc that exits when the host is out of memory. Each program is one translation unit.
 */
#ifndef PATTN_SELFTEST_UTIL_H
#define PATTN_SELFTEST_UTIL_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "splitmix.h"

#define SKIP 77 /* ctest's SKIP_RETURN_CODE: no usable GPU */

static int checks, failures;

/* Counts one check and prints "ok  " or "FAIL" and the description. */
static void record(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void record(int ok, const char *fmt, ...)
{
    ++checks;
    failures += !ok;
    va_list ap;
    va_start(ap, fmt);
    printf("%s ", ok ? "ok  " : "FAIL");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
}

/* splitmix64; the program seeds rng_state. */
static uint64_t rng_state;
static inline uint64_t next_u64(void) { return pattn_splitmix64(&rng_state); }
/* Uniform in [0, 1). */
static inline double uniform(void) { return (double)(next_u64() >> 11) / 9007199254740992.0; }

/* n zeroed bytes (at least one), or exit 1. */
static inline void *xcalloc(size_t n)
{
    void *p = calloc(n ? n : 1, 1);
    if (!p) {
        fprintf(stderr, "out of host memory (%zu bytes)\n", n);
        exit(1);
    }
    return p;
}

#endif /* PATTN_SELFTEST_UTIL_H */
