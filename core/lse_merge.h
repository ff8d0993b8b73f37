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

#include "philox.h" /* PATTN_HD */

/* Merges (o_b, lse_b) into (o_a, *lse_a) in place; d elements per row. */
PATTN_HD void pattn_lse_merge(float *o_a, float *lse_a, const float *o_b, float lse_b, int64_t d)
{
    float la = *lse_a;
    if (lse_b == -INFINITY)
        return;
    if (la == -INFINITY) {
        for (int64_t x = 0; x < d; ++x)
            o_a[x] = o_b[x];
        *lse_a = lse_b;
        return;
    }
    /* Weights from the lse difference, not from the rounded merged lse: exp(la - lse) would
     * carry lse's rounding error, |lse| * 2^-24 relative (2e-4 at |lse| = 1e4). */
    float mx = la > lse_b ? la : lse_b;
    float ea = expf(la - mx), eb = expf(lse_b - mx), sum = ea + eb;
    float wa = ea / sum, wb = eb / sum;
    for (int64_t x = 0; x < d; ++x)
        o_a[x] = wa * o_a[x] + wb * o_b[x];
    *lse_a = mx + logf(sum);
}

#endif /* PATTN_CORE_LSE_MERGE_H */
