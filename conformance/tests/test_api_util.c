/*
 * test_api_util.c: helpers shared by the test_api_*.c suites (see test_api_util.h).
 */
#include "test_api_util.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"

uint64_t api_seed;

uint64_t api_rng_fresh(void)
{
    api_seed = harness_seed();
    return api_seed;
}

int64_t api_rng_int(uint64_t *rng, int64_t lo, int64_t hi)
{
    return lo + (int64_t)(harness_next(rng) % (uint64_t)(hi - lo + 1));
}

int64_t api_edge_biased_length(uint64_t *rng, int64_t min, int64_t max)
{
    int64_t pick = api_rng_int(rng, 0, 3);
    if (pick == 0)
        return min;
    if (pick == 1 && min <= 1 && max >= 1)
        return 1;
    return api_rng_int(rng, min, max);
}

void api_fill_random(uint64_t *rng, pattnDtype_t t, void *buf, int64_t n, double lo, double hi)
{
    for (int64_t i = 0; i < n; ++i)
        pattn_store(t, buf, i, pattn_round_to(t, (float)harness_uniform(rng, lo, hi)));
}

void api_poison(void *buf, size_t bytes) { memset(buf, 0xFF, bytes); }

int64_t api_first_nan(pattnDtype_t t, const void *buf, int64_t n)
{
    for (int64_t i = 0; i < n; ++i)
        if (isnan(pattn_load(t, buf, i)))
            return i;
    return -1;
}

void *api_malloc(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    cr_assert_not_null(p, "out of memory allocating %zu bytes", bytes);
    return p;
}

int64_t api_split_position(pattnSplit_t split, const int64_t *lens, int n, int k, int64_t x)
{
    int64_t total = 0, before = 0, heads_before = 0, tails_before = 0;
    for (int m = 0; m < n; ++m) {
        total += lens[m];
        if (m < k) {
            before += lens[m];
            heads_before += lens[m] / 2;
            tails_before += lens[m] - lens[m] / 2;
        }
    }
    if (split == PATTN_SPLIT_CONTIGUOUS)
        return before + x;
    int64_t head = lens[k] / 2;
    return x < head ? heads_before + x : total - tails_before - (lens[k] - x);
}
