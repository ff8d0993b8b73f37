/*
 * test_dtype.c: the fp16 and bf16 conversions of core/dtype.h against a reference written here
 * with double arithmetic (ldexp to decode, rint to round to nearest even), not with bit tricks:
 *   - every one of the 65536 codes of each format decodes to the value its fields give;
 *   - fp32 -> fp16/bf16 rounds to nearest even at every rounding boundary of the format (each
 *     code's value, the midpoint to the next code and the floats either side of it, including the
 *     subnormal range, zero and the overflow threshold max + ulp/2), over structured bit patterns
 *     of every exponent and mantissa prefix, and over random floats;
 *   - NaN stays NaN (quiet, sign kept), infinities and zeros keep their sign.
 * A few hand-computed values pin the reference itself.
 */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "dtype.h"
#include "harness_util.h"

/* A binary floating-point format: precision p (significand bits with the implicit one), the
 * smallest normal exponent, the largest finite exponent, and where the fields sit in a code. */
typedef struct format {
    const char *name;
    int precision, emin, emax;
    int mantissa_bits, exponent_bits;
    uint16_t (*encode)(float);
    float (*decode)(uint16_t);
} format_t;

static const format_t FP16 = {"fp16", 11, -14, 15, 10, 5, pattn_f32_to_fp16, pattn_fp16_to_f32};
static const format_t BF16 = {"bf16", 8, -126, 127, 7, 8, pattn_f32_to_bf16, pattn_bf16_to_f32};

static float float_of_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* The value of a code from its sign, exponent and mantissa fields (NaN for a NaN code). */
static double reference_decode(const format_t *fm, uint16_t code)
{
    int bias = fm->emax;
    uint32_t man = code & ((1u << fm->mantissa_bits) - 1);
    uint32_t exp = (code >> fm->mantissa_bits) & ((1u << fm->exponent_bits) - 1);
    double v;
    if (exp == (1u << fm->exponent_bits) - 1)
        v = man ? NAN : INFINITY;
    else if (exp == 0)
        v = ldexp((double)man, 1 - bias - fm->mantissa_bits);
    else
        v = ldexp((double)((1u << fm->mantissa_bits) | man), (int)exp - bias - fm->mantissa_bits);
    return (code >> 15) ? -v : v;
}

/* x rounded to the format, to nearest with ties to even (rint in the default rounding mode):
 * the quantum is 2^(e - p + 1) with e the exponent of x, never below the subnormal quantum; a
 * result beyond the largest finite value is an infinity. */
static double reference_round(const format_t *fm, double x)
{
    if (x == 0 || !isfinite(x))
        return x;
    int e;
    frexp(fabs(x), &e); /* |x| = f 2^e, f in [0.5, 1): the exponent of x is e - 1 */
    int exponent = e - 1 < fm->emin ? fm->emin : e - 1;
    double quantum = ldexp(1.0, exponent - fm->precision + 1);
    double r = rint(fabs(x) / quantum) * quantum;
    if (r >= ldexp(1.0, fm->emax + 1))
        r = INFINITY;
    return x < 0 ? -r : r;
}

static double largest_finite(const format_t *fm)
{
    return ldexp(2.0 - ldexp(1.0, 1 - fm->precision), fm->emax);
}

/* Converts f and checks the result against the reference; counts failures and reports the
 * first few. */
static void check_one(const format_t *fm, float f, int *failures)
{
    uint16_t code = fm->encode(f);
    double got = reference_decode(fm, code);
    if (isnan(f)) {
        int quiet = (code >> (fm->mantissa_bits - 1)) & 1;
        if (!isnan(got) || !quiet || !signbit(got) != !signbit(f)) {
            if ((*failures)++ < 5)
                cr_log_error("%s: NaN %08x became code %04x (want a quiet NaN of the same sign)",
                             fm->name, bits_of(f), code);
        }
        return;
    }
    double want = reference_round(fm, (double)f);
    if (!(got == want && !signbit(got) == !signbit(want))) {
        if ((*failures)++ < 5)
            cr_log_error("%s: %.9g (bits %08x) became %.9g (code %04x), nearest-even is %.9g",
                         fm->name, (double)f, bits_of(f), got, code, want);
    }
}

static void check_decode_all(const format_t *fm)
{
    for (uint32_t code = 0; code < 65536; ++code) {
        double want = reference_decode(fm, (uint16_t)code);
        float got = fm->decode((uint16_t)code);
        if (isnan(want))
            cr_assert(isnan(got), "%s code %04x: got %.9g, want NaN", fm->name, code, (double)got);
        else
            cr_assert((double)got == want && !signbit(got) == !signbit(want),
                      "%s code %04x: got %.9g, want %.9g", fm->name, code, (double)got, want);
    }
}

/* Each non-negative finite code's value, the midpoint to the next value up (for the largest
 * finite value: to 2^(emax+1), the overflow threshold) and the floats next to both, with both
 * signs. Every midpoint is exact in fp32 (the formats have at most 11 significant bits). */
static void check_boundaries(const format_t *fm, int *failures)
{
    uint16_t inf_code = (uint16_t)(((1u << fm->exponent_bits) - 1) << fm->mantissa_bits);
    for (uint16_t code = 0; code < inf_code; ++code) {
        double a = reference_decode(fm, code);
        double b = code + 1 == inf_code ? ldexp(1.0, fm->emax + 1) : reference_decode(fm, code + 1);
        float mid = (float)((a + b) / 2);
        cr_assert_eq((double)mid, (a + b) / 2, "%s: midpoint above %04x is not exact in fp32",
                     fm->name, code);
        const float probes[] = {(float)a, nextafterf((float)a, INFINITY), mid,
                                nextafterf(mid, 0), nextafterf(mid, INFINITY)};
        for (size_t i = 0; i < sizeof probes / sizeof probes[0]; ++i) {
            check_one(fm, probes[i], failures);
            check_one(fm, -probes[i], failures);
        }
    }
}

/* Every float whose top bits (sign, exponent and the format's mantissa bits, plus one) take each
 * value, with the lower bits set to the patterns that decide a rounding: exact, just above zero,
 * just below and at a tie, just above a tie, all ones. Covers float subnormals, infinities and
 * NaNs of every payload prefix. */
static void check_bit_patterns(const format_t *fm, int *failures)
{
    int low_bits = 23 - fm->mantissa_bits;
    uint32_t half = 1u << (low_bits - 1), all = (1u << low_bits) - 1;
    const uint32_t lows[] = {0, 1, half - 1, half, half + 1, all};
    for (uint32_t top = 0; top < (1u << (32 - low_bits)); ++top)
        for (size_t i = 0; i < sizeof lows / sizeof lows[0]; ++i)
            check_one(fm, float_of_bits(top << low_bits | lows[i]), failures);
}

static void check_random(const format_t *fm, int *failures)
{
    uint64_t rng = harness_seed();
    for (int i = 0; i < (1 << 22); ++i)
        check_one(fm, float_of_bits((uint32_t)(harness_next(&rng) >> 32)), failures);
}

static void check_format(const format_t *fm)
{
    int failures = 0;
    check_boundaries(fm, &failures);
    check_bit_patterns(fm, &failures);
    check_random(fm, &failures);
    cr_assert_eq(failures, 0, "%s: %d conversions differ from round-to-nearest-even (first ones "
                 "logged above)", fm->name, failures);
}

Test(dtype, reference_hand_checked)
{
    /* ties go to the even neighbour, in the normal and the subnormal range, and at overflow */
    cr_assert_eq(reference_round(&BF16, 1.0 + 0x1p-8), 1.0);
    cr_assert_eq(reference_round(&BF16, 1.0 + 3 * 0x1p-8), 1.0 + 0x1p-6);
    cr_assert_eq(reference_round(&FP16, 0x1p-25), 0.0);
    cr_assert_eq(reference_round(&FP16, 3 * 0x1p-25), 0x1p-23);
    cr_assert_eq(reference_round(&FP16, 65519.99), 65504.0);
    cr_assert_eq(reference_round(&FP16, 65520.0), INFINITY);
    cr_assert_eq(largest_finite(&FP16), 65504.0);
    cr_assert_eq(largest_finite(&BF16), 0x1.fep127);
    cr_assert_eq(reference_decode(&FP16, 0x3c00), 1.0);
    cr_assert_eq(reference_decode(&FP16, 0x0001), 0x1p-24);
    cr_assert_eq(reference_decode(&BF16, 0x3f80), 1.0);
    cr_assert_eq(reference_decode(&BF16, 0x0001), 0x1p-133);
    cr_assert(isnan(reference_decode(&BF16, 0x7fc1)));
}

Test(dtype, every_code_decodes_to_its_value)
{
    check_decode_all(&FP16);
    check_decode_all(&BF16);
}

Test(dtype, fp16_rounds_to_nearest_even) { check_format(&FP16); }

Test(dtype, bf16_rounds_to_nearest_even) { check_format(&BF16); }

/* pattn_round_to is the composition the harness relies on to check that inputs are exact. */
Test(dtype, round_to_is_encode_then_decode)
{
    uint64_t rng = harness_seed();
    for (int i = 0; i < 100000; ++i) {
        float f = (float)harness_uniform(&rng, -70000, 70000);
        cr_assert_eq(pattn_round_to(PATTN_FP16, f), (float)reference_round(&FP16, f));
        cr_assert_eq(pattn_round_to(PATTN_BF16, f), (float)reference_round(&BF16, f));
        cr_assert_eq(pattn_round_to(PATTN_FP32, f), f);
    }
}
