/*
 * fuzz_util.h: what the libFuzzer targets share: an input as a stream, a private temporary
 * folder per process, and FUZZ_CHECK, which aborts (so libFuzzer keeps the input) when a
 * property fails.
 */
#ifndef PATTN_FUZZ_UTIL_H
#define PATTN_FUZZ_UTIL_H

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond, ...)                                                                     \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz property failed: %s: ", #cond);                                  \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* The input as a read-only stream (NULL for an empty input). */
FILE *fuzz_open(const unsigned char *data, size_t size);

/* name inside this process's temporary folder (made on first use, removed at exit). */
const char *fuzz_temp_path(const char *name);

/* Removes every file in this process's temporary folder, and its sub-folders. */
void fuzz_clear_temp(void);

#endif /* PATTN_FUZZ_UTIL_H */
