/*
 * harness_util.h: small helpers shared by the harness's own Criterion tests (test_npy.c,
 * test_case_parser.c, test_compare.c): fresh temporary folders, a seeded random source, and
 * writers of case files.
 */
#ifndef HARNESS_TEST_UTIL_H
#define HARNESS_TEST_UTIL_H

#include <stdint.h>

#include "npy.h"

/* A new empty folder under the system's temporary folder (removed by harness_remove_tree). */
const char *harness_tmpdir(char *buf, size_t size);
/* rm -rf path. */
void harness_remove_tree(const char *path);

/* A fresh seed per run (logged, so a failure can be replayed with PATTN_TEST_SEED=...). */
uint64_t harness_seed(void);
/* splitmix64 step. */
uint64_t harness_next(uint64_t *state);
/* Uniform in [lo, hi). */
double harness_uniform(uint64_t *state, double lo, double hi);

/* Writes text to dir/name. */
void harness_write_text(const char *dir, const char *name, const char *text);
/* Writes a float32 / int32 array to dir/name with the given shape (asserts on failure). */
void harness_write_f32(const char *dir, const char *name, int ndim, const int64_t *shape,
                    const float *values);
void harness_write_i32(const char *dir, const char *name, int ndim, const int64_t *shape,
                    const int32_t *values);

#endif /* HARNESS_TEST_UTIL_H */
