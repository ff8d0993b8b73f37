/*
 * test_api_util.h: helpers shared by the test_api_*.c Criterion suites, on top of the seeded
 * random source of harness_util.h (harness_seed, harness_next, harness_uniform): the seed kept
 * for failure messages, random fills exactly representable in a dtype, NaN poisoning, and the
 * SPEC's split formulas computed independently of core/plan.c.
 */
#ifndef PATTN_TEST_API_UTIL_H
#define PATTN_TEST_API_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "harness_util.h"
#include "parallel_attn.h"

/* The seed of the running test (each test is its own process), for failure messages. */
extern uint64_t api_seed;
/* A fresh random state (harness_seed: logged, PATTN_TEST_SEED=n replays it); sets api_seed. */
uint64_t api_rng_fresh(void);
/* Uniform integer in [lo, hi] (inclusive). */
int64_t api_rng_int(uint64_t *rng, int64_t lo, int64_t hi);

/* A length in [min, max] that hits the edges often: min, 1 (when in range), else uniform. */
int64_t api_edge_biased_length(uint64_t *rng, int64_t min, int64_t max);

/* Fills n elements of dtype t with uniform values in [lo, hi) rounded to t (so the array holds
 * exactly what the test believes it holds). */
void api_fill_random(uint64_t *rng, pattnDtype_t t, void *buf, int64_t n, double lo, double hi);

/* Fills bytes with 0xFF: NaN in fp32, fp16 and bf16, -1 in int64. */
void api_poison(void *buf, size_t bytes);
/* Index of the first NaN among n elements of dtype t, or -1 (an element the call did not write). */
int64_t api_first_nan(pattnDtype_t t, const void *buf, int64_t n);

/* Allocation that fails the test instead of returning NULL. */
void *api_malloc(size_t bytes);

/*
 * SPEC section 3: the global position of local token x of ring member k, whose ring holds
 * lens[0..n-1] tokens of this sequence. contiguous: sum_{m<k} L_m + x. sym: head chunk
 * floor(L_k/2) laid left to right, tail chunk right to left.
 */
int64_t api_split_position(pattnSplit_t split, const int64_t *lens, int n, int k, int64_t x);

#endif /* PATTN_TEST_API_UTIL_H */
