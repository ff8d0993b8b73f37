/*
 * harness_util.c: helpers of the harness's own tests (harness_util.h).
 */
#define _XOPEN_SOURCE 700
#include "harness_util.h"

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "splitmix.h"

const char *harness_tmpdir(char *buf, size_t size)
{
    const char *base = getenv("TMPDIR");
    snprintf(buf, size, "%s/pattn-harness-XXXXXX", base && *base ? base : "/tmp");
    cr_assert_not_null(mkdtemp(buf), "mkdtemp(%s) failed", buf);
    return buf;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void harness_remove_tree(const char *path) { nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

uint64_t harness_seed(void)
{
    const char *env = getenv("PATTN_TEST_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 10)
                        : (uint64_t)time(NULL) * 2654435761u ^ (uint64_t)getpid() << 20;
    cr_log_info("seed %llu (replay with PATTN_TEST_SEED=%llu)", (unsigned long long)seed,
                (unsigned long long)seed);
    return seed;
}

uint64_t harness_next(uint64_t *state) { return pattn_splitmix64(state); }

double harness_uniform(uint64_t *state, double lo, double hi)
{
    return lo + (hi - lo) * (double)(harness_next(state) >> 11) * 0x1.0p-53;
}

void harness_write_text(const char *dir, const char *name, const char *text)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "cannot create %s", path);
    cr_assert_eq(fputs(text, f) >= 0, 1);
    cr_assert_eq(fclose(f), 0);
}

static void write_array(const char *dir, const char *name, npy_dtype_t dtype, int ndim,
                        const int64_t *shape, const void *values)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    npy_array_t a;
    conf_error_t err;
    cr_assert_eq(npy_alloc(&a, dtype, ndim, shape, &err), 0, "%s", err.text);
    if (a.count)
        memcpy(a.data, values, (size_t)a.count * npy_item_size(dtype));
    cr_assert_eq(npy_write(path, &a, &err), 0, "%s", err.text);
    npy_free(&a);
}

void harness_write_f32(const char *dir, const char *name, int ndim, const int64_t *shape,
                    const float *values)
{
    write_array(dir, name, NPY_F4, ndim, shape, values);
}

void harness_write_i32(const char *dir, const char *name, int ndim, const int64_t *shape,
                    const int32_t *values)
{
    write_array(dir, name, NPY_I4, ndim, shape, values);
}
