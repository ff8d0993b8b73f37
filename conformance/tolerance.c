/*
 * tolerance.c: default tolerances per dtype and case overrides (tolerance.h).
 *
 * For scale: one unit in the last place is 2^-10 (9.8e-4) relative in fp16 and 2^-8 (3.9e-3)
 * in bf16, so rtol_out allows about 2 ulp (fp16) and 4 ulp (bf16) of the stored output;
 * gradients get more room, following FlashAttention's 2x (forward) / 3x (backward) rule, which
 * compare.c also checks on its own where the case carries the naive baselines.
 */
#include "tolerance.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#include "dtype.h"

static conf_tolerance_t dtype_default(pattnDtype_t dtype)
{
    switch (dtype) {
    case PATTN_FP16:
        return (conf_tolerance_t){5e-4, 2e-3, 2e-4, 2e-3, 5e-3, NAN, NAN, dtype};
    case PATTN_BF16:
        return (conf_tolerance_t){4e-3, 1.6e-2, 2e-4, 1e-2, 3e-2, NAN, NAN, dtype};
    default:
        return (conf_tolerance_t){1e-5, 1e-4, 5e-5, 1e-4, 1e-3, NAN, NAN, dtype};
    }
}

conf_tolerance_t tolerance_default(pattnDtype_t dtype, double p_dropout)
{
    /* Dropout multiplies every kept probability by 1/(1-p): the rounding of those products
     * (tensor-core kernels round P to the dtype before P V, as FlashAttention-2 does) grows by
     * the same factor, and where kept terms cancel |exp| stays small, so only the absolute
     * parts scale. */
    conf_tolerance_t t = dtype_default(dtype);
    double keep_scale = 1.0 / (1.0 - p_dropout);
    t.atol_out *= keep_scale;
    t.atol_dqkv *= keep_scale;
    return t;
}

conf_tolerance_t tolerance_unset(void)
{
    return (conf_tolerance_t){NAN, NAN, NAN, NAN, NAN, NAN, NAN, PATTN_FP32};
}

static const struct {
    const char *key;
    size_t offset;
} FIELDS[] = {{"atol_out", offsetof(conf_tolerance_t, atol_out)},
              {"rtol_out", offsetof(conf_tolerance_t, rtol_out)},
              {"atol_lse", offsetof(conf_tolerance_t, atol_lse)},
              {"atol_dqkv", offsetof(conf_tolerance_t, atol_dqkv)},
              {"rtol_dqkv", offsetof(conf_tolerance_t, rtol_dqkv)},
              {"naive_err_out", offsetof(conf_tolerance_t, naive_err_out)},
              {"naive_err_dqkv", offsetof(conf_tolerance_t, naive_err_dqkv)}};
#define NUM_FIELDS (sizeof FIELDS / sizeof FIELDS[0])

double *tolerance_field(conf_tolerance_t *t, const char *key)
{
    for (size_t i = 0; i < NUM_FIELDS; ++i)
        if (strcmp(key, FIELDS[i].key) == 0)
            return (double *)((char *)t + FIELDS[i].offset);
    return NULL;
}

conf_tolerance_t tolerance_apply(conf_tolerance_t base, const conf_tolerance_t *overrides)
{
    conf_tolerance_t over = *overrides;
    for (size_t i = 0; i < NUM_FIELDS; ++i) {
        double v = *tolerance_field(&over, FIELDS[i].key);
        if (!isnan(v))
            *tolerance_field(&base, FIELDS[i].key) = v;
    }
    return base;
}

double tolerance_rounding_noise(pattnDtype_t dtype, double expected)
{
    if (!isfinite(expected))
        return 0;
    float e = pattn_round_to(dtype, (float)expected);
    float up = pattn_round_to(dtype, e + 0.3f), back = pattn_round_to(dtype, up - 0.3f);
    return 2 * fabs((double)back - (double)e);
}
