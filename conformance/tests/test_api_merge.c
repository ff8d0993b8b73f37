/*
 * test_api_merge.c: pattn_lse_merge (core/lse_merge.h) against a direct softmax in float64.
 *
 * A row's keys are split at random into parts (some empty); each part's normalised partial
 * (o, lse) is computed in float64 and rounded to fp32, the parts are merged in random order, and
 * the result must equal the direct softmax over all keys. Plus the -inf edges and extreme lse
 * differences.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "lse_merge.h"
#include "test_api_util.h"

#define MAX_KEYS 48
#define MAX_PARTS 6
#define DIM 16

/* Softmax of keys `which` (count of them) in float64: out = sum p_j v_j, returns lse (-inf and
 * out = 0 when there are no keys). */
static double direct_softmax(const double *score, double values[][DIM], const int *which,
                             int count, double out[DIM])
{
    memset(out, 0, sizeof(double) * DIM);
    if (count == 0)
        return -INFINITY;
    double mx = -INFINITY, sum = 0;
    for (int i = 0; i < count; ++i)
        mx = fmax(mx, score[which[i]]);
    for (int i = 0; i < count; ++i)
        sum += exp(score[which[i]] - mx);
    double lse = mx + log(sum);
    for (int i = 0; i < count; ++i)
        for (int x = 0; x < DIM; ++x)
            out[x] += exp(score[which[i]] - lse) * values[which[i]][x];
    return lse;
}

Test(merge, random_splits_equal_the_direct_softmax)
{
    uint64_t rng = api_rng_fresh();
    double worst_out = 0, worst_lse = 0;
    for (int trial = 0; trial < 2000; ++trial) {
        int keys = (int)api_rng_int(&rng, 1, MAX_KEYS);
        int parts = (int)api_rng_int(&rng, 1, MAX_PARTS);
        double spread = api_rng_int(&rng, 0, 1) ? 3.0 : 30.0; /* mild and peaked rows */
        double score[MAX_KEYS], values[MAX_KEYS][DIM];
        int part_of[MAX_KEYS], all[MAX_KEYS];
        for (int j = 0; j < keys; ++j) {
            score[j] = harness_uniform(&rng, -spread, spread);
            for (int x = 0; x < DIM; ++x)
                values[j][x] = harness_uniform(&rng, -1, 1);
            part_of[j] = (int)api_rng_int(&rng, 0, parts - 1);
            all[j] = j;
        }
        double want_out[DIM];
        double want_lse = direct_softmax(score, values, all, keys, want_out);

        /* Merge the parts in a random order, starting from an empty row (-inf, 0). */
        int order[MAX_PARTS];
        for (int i = 0; i < parts; ++i)
            order[i] = i;
        for (int i = parts - 1; i > 0; --i) {
            int j = (int)api_rng_int(&rng, 0, i), t = order[i];
            order[i] = order[j], order[j] = t;
        }
        float acc[DIM] = {0}, acc_lse = -INFINITY;
        for (int i = 0; i < parts; ++i) {
            int which[MAX_KEYS], count = 0;
            for (int j = 0; j < keys; ++j)
                if (part_of[j] == order[i])
                    which[count++] = j;
            double part_out[DIM];
            double part_lse = direct_softmax(score, values, which, count, part_out);
            float o[DIM];
            for (int x = 0; x < DIM; ++x)
                o[x] = (float)part_out[x];
            pattn_lse_merge(acc, &acc_lse, o, (float)part_lse, DIM);
        }
        /* Mild rows (|score| <= 3, |lse| < 8): within 1e-6 (measured worst 2.8e-7 over 2e5
         * rows). Peaked rows carry the fp32 rounding of the stored lse into the next merge's
         * weights, 2^-24 |lse| relative per merge, so their bound grows with |lse| and parts. */
        double lse_ulp = 0x1.0p-24 * fmax(1.0, fabs(want_lse));
        double tol_out = spread == 3.0 ? 1e-6 : 1e-6 + parts * lse_ulp;
        double lse_err = fabs(acc_lse - want_lse);
        cr_assert(lse_err <= 1e-6 + parts * lse_ulp,
                  "trial %d (%d keys, %d parts): lse %.9g, direct %.9g (seed %llu)", trial, keys,
                  parts, acc_lse, want_lse, (unsigned long long)api_seed);
        worst_lse = fmax(worst_lse, lse_err);
        for (int x = 0; x < DIM; ++x) {
            double err = fabs(acc[x] - want_out[x]);
            cr_assert(err <= tol_out,
                      "trial %d (%d keys, %d parts, spread %g): out[%d] %.9g, direct %.9g, "
                      "tolerance %.3g (seed %llu)",
                      trial, keys, parts, spread, x, acc[x], want_out[x], tol_out,
                      (unsigned long long)api_seed);
            worst_out = fmax(worst_out, err / tol_out);
        }
    }
    cr_log_info("worst out error %.3g of its tolerance, worst lse error %.3g", worst_out,
                worst_lse);
}

/* A side that saw no key leaves the other side exactly as it was, in either position. */
Test(merge, minus_inf_side_is_neutral)
{
    uint64_t rng = api_rng_fresh();
    float o[DIM], empty[DIM] = {0}, acc[DIM];
    api_fill_random(&rng, PATTN_FP32, o, DIM, -1, 1);
    float lse = (float)harness_uniform(&rng, -5, 5);

    memcpy(acc, o, sizeof acc);
    float acc_lse = lse;
    pattn_lse_merge(acc, &acc_lse, empty, -INFINITY, DIM);
    cr_assert(acc_lse == lse && memcmp(acc, o, sizeof acc) == 0,
              "merging -inf into (lse %g) changed it to lse %g", lse, acc_lse);

    memcpy(acc, empty, sizeof acc);
    acc_lse = -INFINITY;
    pattn_lse_merge(acc, &acc_lse, o, lse, DIM);
    cr_assert(acc_lse == lse && memcmp(acc, o, sizeof acc) == 0,
              "merging (lse %g) into -inf gave lse %g or a different row", lse, acc_lse);
}

Test(merge, both_sides_minus_inf_stay_empty_without_nan)
{
    float acc[DIM] = {0}, other[DIM] = {0}, acc_lse = -INFINITY;
    pattn_lse_merge(acc, &acc_lse, other, -INFINITY, DIM);
    cr_assert(isinf(acc_lse) && acc_lse < 0, "lse %g, expected -inf", acc_lse);
    for (int x = 0; x < DIM; ++x)
        cr_assert(acc[x] == 0.0f && !isnan(acc[x]), "out[%d] = %g, expected 0", x, acc[x]);
}

/* lse differences of 1e4: the smaller side's weight underflows to 0, nothing overflows. */
Test(merge, extreme_lse_differences_stay_finite)
{
    uint64_t rng = api_rng_fresh();
    static const float pairs[][2] = {{0, -1e4f}, {-1e4f, 0}, {1e4f, 0}, {0, 1e4f},
                                     {5e3f, -5e3f}, {-5e3f, 5e3f}, {1e4f, 1e4f}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; ++i) {
        float a[DIM], b[DIM], acc[DIM];
        api_fill_random(&rng, PATTN_FP32, a, DIM, -1, 1);
        api_fill_random(&rng, PATTN_FP32, b, DIM, -1, 1);
        memcpy(acc, a, sizeof acc);
        float acc_lse = pairs[i][0];
        pattn_lse_merge(acc, &acc_lse, b, pairs[i][1], DIM);
        double la = pairs[i][0], lb = pairs[i][1], mx = fmax(la, lb);
        double want_lse = mx + log(exp(la - mx) + exp(lb - mx));
        cr_assert(isfinite(acc_lse) && fabs(acc_lse - want_lse) <= 1e-6 * fmax(1, fabs(want_lse)),
                  "lse_a %g, lse_b %g: merged lse %.9g, expected %.9g", la, lb, acc_lse, want_lse);
        for (int x = 0; x < DIM; ++x) {
            double want = exp(la - want_lse) * a[x] + exp(lb - want_lse) * b[x];
            cr_assert(isfinite(acc[x]) && fabs(acc[x] - want) <= 1e-6,
                      "lse_a %g, lse_b %g: out[%d] %.9g, expected %.9g", la, lb, x, acc[x], want);
        }
    }
}
