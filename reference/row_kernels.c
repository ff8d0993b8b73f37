/*
 * row_kernels.c: the element-wise loops over one row of a score tile (max, exp and sum, scaling,
 * dropout, dS), the reference's hottest code after sgemm.
 *
 * Also the fp16 / bf16 to fp32 row conversions of the tile loads.
 * They are written to vectorise (fast_exp.h, no branches) and, with GCC or Clang on x86-64
 * glibc, compiled for AVX-512, AVX2 and baseline x86-64 side by side (REF_MULTIVERSION); the
 * loader picks the best the CPU has, so the binary stays portable. Every version computes each
 * element with the same operations; only the order of the sum in ref_row_exp depends on the
 * vector width, so results are reproducible on one machine, whatever the thread count.
 */
#include <math.h>
#include <string.h>

#include "fast_exp.h"
#include "reference.h"

typedef float vec16 __attribute__((vector_size(16 * sizeof(float))));
typedef int32_t mask16 __attribute__((vector_size(16 * sizeof(int32_t))));

REF_MULTIVERSION float ref_row_max(const float *s, int64_t n)
{
    /* 16 running maxima, element-wise (no reduction is reassociated), and whether a NaN was
     * seen: a NaN score makes the max NaN, so that it reaches exp(s - max), the sum and the
     * output (SPEC section 1). */
    vec16 part = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY,
                  -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY,
                  -INFINITY, -INFINITY, -INFINITY, -INFINITY};
    mask16 nan = {0};
    int64_t j = 0;
    for (; j + 16 <= n; j += 16) {
        vec16 x;
        memcpy(&x, s + j, sizeof x);
        mask16 larger = x > part;
        part = (vec16)(((mask16)x & larger) | ((mask16)part & ~larger));
        nan |= x != x;
    }
    float mx = -INFINITY, lanes[16];
    int any_nan = 0;
    memcpy(lanes, &part, sizeof lanes);
    for (int x = 0; x < 16; ++x) {
        mx = lanes[x] > mx ? lanes[x] : mx;
        any_nan |= nan[x];
    }
    for (; j < n; ++j) {
        mx = s[j] > mx ? s[j] : mx;
        any_nan |= s[j] != s[j];
    }
    return any_nan ? NAN : mx;
}

REF_MULTIVERSION float ref_row_exp(float *s, int64_t n, float shift)
{
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < n; ++j) {
        float e = ref_exp(s[j] - shift);
        s[j] = e;
        sum += e;
    }
    return sum;
}

REF_MULTIVERSION void ref_row_scale(float *x, int64_t n, float f)
{
#pragma omp simd
    for (int64_t j = 0; j < n; ++j)
        x[j] *= f;
}

REF_MULTIVERSION void ref_row_dropout(float *dst, const float *src, const uint8_t *keep,
                                      int64_t n, uint8_t threshold, float f)
{
#pragma omp simd
    for (int64_t j = 0; j < n; ++j)
        dst[j] = keep[j] <= threshold ? src[j] * f : 0.0f;
}

REF_MULTIVERSION void ref_row_score_grad(float *s, const float *dp, int64_t n, float dsum)
{
#pragma omp simd
    for (int64_t j = 0; j < n; ++j)
        s[j] = s[j] * (dp[j] - dsum);
}

/* IEEE binary16 to fp32 without branches (so it vectorises), exact for every input, NaN payloads
 * and subnormals included, bit-identical to pattn_fp16_to_f32 (core/dtype.h): the exponent and
 * mantissa bits moved into fp32 position read as 2^-112 times the value (subnormals as fp32
 * subnormals), and one exact multiply by 2^112 fixes the exponent; inf/NaN get the all-ones
 * exponent instead. */
REF_MULTIVERSION void ref_row_from_fp16(const uint16_t *src, int64_t n, float *dst)
{
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) {
        uint32_t h = src[j], em = h & 0x7fffu, bits = em << 13, out;
        float f;
        memcpy(&f, &bits, 4);
        f *= 0x1p112f;
        memcpy(&out, &f, 4);
        out = em >= 0x7c00u ? bits | 0x7f800000u : out;
        out |= (h & 0x8000u) << 16;
        memcpy(&dst[j], &out, 4);
    }
}

/* bfloat16 to fp32: the upper half of the fp32 bits. */
REF_MULTIVERSION void ref_row_from_bf16(const uint16_t *src, int64_t n, float *dst)
{
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) {
        uint32_t bits = (uint32_t)src[j] << 16;
        memcpy(&dst[j], &bits, 4);
    }
}
