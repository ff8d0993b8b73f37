/*
 * fast_exp.h: expf for the softmax loops, in plain C without branches or libm calls, so that
 * compilers vectorise the loops that call it (a libm expf call per score element would dominate
 * the forward).
 *
 * Method (Cephes expf): x = n ln2 + r with n = round(x / ln2) and |r| <= ln2 / 2, ln2 split into
 * C1 + C2 so that x - n C1 is exact; exp(r) ~ 1 + r + r^2 P(r) with Cephes' degree-5 minimax P;
 * the result is exp(r) * 2^n, 2^n assembled in the exponent bits. The rounding uses the 1.5 * 2^23
 * trick, which also yields n in the low mantissa bits, so no float-to-int conversion is needed.
 *
 * Accuracy: under 1 ulp (0.99 at worst) against exp() in double, checked over every float in
 * [-87.33, 88] when this was written (without FMA contraction). Range: x < -87.33654 (ln FLT_MIN), -inf
 * included, gives +0: results that would be subnormal are flushed to 0. x > 88 gives exp(88)
 * (the softmax only evaluates x <= 0 up to rounding). NaN gives NaN.
 */
#ifndef PATTN_REFERENCE_FAST_EXP_H
#define PATTN_REFERENCE_FAST_EXP_H

#include <stdint.h>
#include <string.h>

static inline float ref_exp(float x)
{
    const float lo = -87.33654f, hi = 88.0f, round_magic = 12582912.0f; /* 1.5 * 2^23 */
    float xc = x < lo ? lo : x; /* a NaN passes both clamps */
    xc = xc > hi ? hi : xc;
    float t = xc * 1.44269504088896341f + round_magic;
    float n = t - round_magic;
    float r = xc - n * 0.693359375f;  /* C1: exact product */
    r = r - n * -2.12194440e-4f;      /* C2 = ln2 - C1 */
    float z = r * r;
    float y = (((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r +
                 4.1665795894e-2f) * r + 1.6666665459e-1f) * r + 5.0000001201e-1f) * z + r + 1.0f;
    uint32_t tb, pb;
    memcpy(&tb, &t, 4);
    pb = (tb - 0x4B400000u + 127u) << 23; /* t's bits are 0x4B400000 + n; 2^n = (n + 127) << 23 */
    float pow2;
    memcpy(&pow2, &pb, 4);
    return x < lo ? 0.0f : y * pow2;
}

#endif /* PATTN_REFERENCE_FAST_EXP_H */
