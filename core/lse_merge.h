/*
 * lse_merge.h: merging two partial attention results of the same query row through their LSE,
 * in fp32, usable on the host and on the device.
 *
 * (o_a, lse_a) and (o_b, lse_b) are each normalised over disjoint key sets; the merged row is
 *   lse = max + log(exp(lse_a - max) + exp(lse_b - max)),  o = w_a o_a + w_b o_b,
 *   w_x = exp(lse_x - max) / (exp(lse_a - max) + exp(lse_b - max))  (= exp(lse_x - lse)).
 * Both -inf (no key seen by either side) gives lse = -inf and o = 0 with no NaN; one -inf side
 * gives the other side unchanged.
 */
#ifndef PATTN_CORE_LSE_MERGE_H
#define PATTN_CORE_LSE_MERGE_H

#include <math.h>
#include <stdint.h>

#include "hd.h"

/* The weights of merging a partial with lse_b into a running result with lse_a, so that
 * o = w_a o_a + w_b o_b; returns the merged lse. One side at -inf leaves the other unchanged
 * (its weight 1, the empty side's 0), both at -inf give -inf. */
PATTN_HD float pattn_lse_merge_weights(float lse_a, float lse_b, float *w_a, float *w_b)
{
    if (lse_b == -INFINITY) {
        *w_a = 1.0f;
        *w_b = 0.0f;
        return lse_a;
    }
    if (lse_a == -INFINITY) {
        *w_a = 0.0f;
        *w_b = 1.0f;
        return lse_b;
    }
    /* Weights from the lse difference, not from the rounded merged lse: exp(la - lse) would
     * carry lse's rounding error, |lse| * 2^-24 relative (2e-4 at |lse| = 1e4). */
    float mx = lse_a > lse_b ? lse_a : lse_b;
    float ea = expf(lse_a - mx), eb = expf(lse_b - mx), sum = ea + eb;
    *w_a = ea / sum;
    *w_b = eb / sum;
    return mx + logf(sum);
}

/* One merged element. A side of weight 0 is not read: the accumulator of a row's first partial
 * may hold anything (NaN poison included), and an empty partial's output need not be set. */
PATTN_HD float pattn_lse_merged(float w_a, float o_a, float w_b, float o_b)
{
    if (w_a == 0.0f)
        return w_b * o_b;
    if (w_b == 0.0f)
        return w_a * o_a;
    return w_a * o_a + w_b * o_b;
}

/* Merges (o_b, lse_b) into (o_a, *lse_a) in place; d elements per row. */
PATTN_HD void pattn_lse_merge(float *o_a, float *lse_a, const float *o_b, float lse_b, int64_t d)
{
    float w_a, w_b;
    float lse = pattn_lse_merge_weights(*lse_a, lse_b, &w_a, &w_b);
    for (int64_t x = 0; x < d; ++x)
        o_a[x] = pattn_lse_merged(w_a, o_a[x], w_b, o_b[x]);
    *lse_a = lse;
}

#endif /* PATTN_CORE_LSE_MERGE_H */
