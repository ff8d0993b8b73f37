/*
 * dtype.h: host conversions between fp32 and the storage dtypes (IEEE binary16, bfloat16),
 * round-to-nearest-even, and element loads and stores used by the reference and the harness.
 */
#ifndef PATTN_CORE_DTYPE_H
#define PATTN_CORE_DTYPE_H

#include <stdint.h>
#include <string.h>

#include "parallel_attn.h"

static inline size_t pattn_dtype_size(pattnDtype_t t) { return t == PATTN_FP32 ? 4 : 2; }

static inline float pattn_bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline uint16_t pattn_f32_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu)) /* NaN stays a quiet NaN */
        return (uint16_t)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static inline float pattn_fp16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, u;
    if (exp == 0) {
        if (man == 0) {
            u = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do {
                ++e;
                man <<= 1;
            } while (!(man & 0x400u));
            u = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13);
        }
    } else if (exp == 31) {
        u = sign | 0x7f800000u | (man << 13);
    } else {
        u = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline uint16_t pattn_f32_to_fp16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    uint32_t sign = (u >> 16) & 0x8000u, exp = (u >> 23) & 0xffu, man = u & 0x7fffffu;
    if (exp == 0xff) /* inf or NaN */
        return (uint16_t)(sign | 0x7c00u | (man ? 0x200u : 0));
    int32_t e = (int32_t)exp - 127 + 15;
    if (e >= 31)
        return (uint16_t)(sign | 0x7c00u);
    if (e <= 0) { /* subnormal or zero in fp16 */
        if (e < -10)
            return (uint16_t)sign;
        man |= 0x800000u;
        uint32_t shift = (uint32_t)(14 - e);
        uint32_t half = man >> shift, rem = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1u)))
            ++half;
        return (uint16_t)(sign | half);
    }
    uint32_t half = sign | ((uint32_t)e << 10) | (man >> 13), rem = man & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (half & 1u)))
        ++half; /* may carry into the exponent, which is the correct rounding */
    return (uint16_t)half;
}

/* Element i of an array of dtype t, as fp32. */
static inline float pattn_load(pattnDtype_t t, const void *a, int64_t i)
{
    switch (t) {
    case PATTN_FP16:
        return pattn_fp16_to_f32(((const uint16_t *)a)[i]);
    case PATTN_BF16:
        return pattn_bf16_to_f32(((const uint16_t *)a)[i]);
    default:
        return ((const float *)a)[i];
    }
}

/* Stores v into element i of an array of dtype t, rounding to nearest even. */
static inline void pattn_store(pattnDtype_t t, void *a, int64_t i, float v)
{
    switch (t) {
    case PATTN_FP16:
        ((uint16_t *)a)[i] = pattn_f32_to_fp16(v);
        break;
    case PATTN_BF16:
        ((uint16_t *)a)[i] = pattn_f32_to_bf16(v);
        break;
    default:
        ((float *)a)[i] = v;
    }
}

/* Rounds v to the nearest value representable in dtype t (fp32 unchanged). */
static inline float pattn_round_to(pattnDtype_t t, float v)
{
    if (t == PATTN_FP16)
        return pattn_fp16_to_f32(pattn_f32_to_fp16(v));
    if (t == PATTN_BF16)
        return pattn_bf16_to_f32(pattn_f32_to_bf16(v));
    return v;
}

#endif /* PATTN_CORE_DTYPE_H */
