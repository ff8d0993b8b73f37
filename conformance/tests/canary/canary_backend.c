/*
 * canary_backend.c: the damaging forward layer of the canary tests (canary_backend.h). Each
 * wrapper saves the bytes it will "forget" to write, calls the real entry point, then restores
 * them (so the harness's poison stays where a kernel skipped an element), flips a sign bit or
 * pushes the generator on.
 */
#include "canary_backend.h"

#include <string.h>

#include "dtype.h"
#include "parallel_attn.h"

pattnResult_t __real_pattnForward(pattnHandle_t handle, const pattnParams_t *params,
                                  pattnGenerator_t *gen, const void *qkv, void *out,
                                  float *softmax_lse, int64_t *rng_state, float *softmax);
pattnResult_t __real_pattnForwardEmulated(const pattnParams_t *params, pattnGenerator_t *gens,
                                          const void *const *qkv, void *const *out,
                                          float *const *softmax_lse, int64_t *rng_states,
                                          float *const *softmax,
                                          const pattnStepObserver_t *observer);

static struct {
    canary_damage_t damage;
    int member;
    int64_t element;
    int applied;
} armed;

void canary_arm(canary_damage_t damage, int member, int64_t element)
{
    armed.damage = damage;
    armed.member = member;
    armed.element = element;
    armed.applied = 0;
}

void canary_disarm(void) { armed.damage = CANARY_NONE; }

int canary_applied(void) { return armed.applied; }

/* The outputs of one ring member, as the damage sees them. */
typedef struct member_outputs {
    pattnDtype_t dtype;
    void *out;
    float *lse, *softmax;
    int64_t *rng_state;
    pattnGenerator_t *gen;
} member_outputs_t;

/* Where the armed damage hits in m, and how many bytes (0: nothing to skip). */
static unsigned char *target(const member_outputs_t *m, size_t *bytes)
{
    int64_t i = armed.element;
    switch (armed.damage) {
    case CANARY_SKIP_OUT:
        *bytes = pattn_dtype_size(m->dtype);
        return (unsigned char *)m->out + (size_t)i * *bytes;
    case CANARY_SKIP_LSE:
        *bytes = sizeof(float);
        return (unsigned char *)(m->lse + i);
    case CANARY_SKIP_SOFTMAX:
    case CANARY_FLIP_SIGN:
        *bytes = sizeof(float);
        return m->softmax ? (unsigned char *)(m->softmax + i) : NULL;
    case CANARY_SKIP_RNG_STATE:
        *bytes = 2 * sizeof(int64_t);
        return (unsigned char *)m->rng_state;
    default:
        *bytes = 0;
        return NULL;
    }
}

typedef struct saved {
    unsigned char *at;
    size_t bytes;
    unsigned char before[16];
} saved_t;

static saved_t before_call(const member_outputs_t *m)
{
    saved_t s = {NULL, 0, {0}};
    if (armed.damage == CANARY_NONE || armed.damage == CANARY_FLIP_SIGN ||
        armed.damage == CANARY_ADVANCE_WRONG)
        return s;
    s.at = target(m, &s.bytes);
    if (s.at)
        memcpy(s.before, s.at, s.bytes);
    return s;
}

static void after_call(const member_outputs_t *m, const saved_t *s, pattnResult_t r)
{
    if (r != pattnSuccess || armed.damage == CANARY_NONE)
        return;
    size_t bytes;
    unsigned char *at;
    switch (armed.damage) {
    case CANARY_FLIP_SIGN:
        if (!(at = target(m, &bytes)))
            return;
        m->softmax[armed.element] = -m->softmax[armed.element];
        break;
    case CANARY_ADVANCE_WRONG:
        m->gen->offset += 32;
        break;
    default:
        if (!s->at)
            return;
        memcpy(s->at, s->before, s->bytes);
    }
    ++armed.applied;
}

pattnResult_t __wrap_pattnForward(pattnHandle_t handle, const pattnParams_t *params,
                                  pattnGenerator_t *gen, const void *qkv, void *out,
                                  float *softmax_lse, int64_t *rng_state, float *softmax)
{
    member_outputs_t m = {params ? params->dtype : PATTN_FP32, out, softmax_lse, softmax,
                          rng_state, gen};
    saved_t s = armed.member == 0 ? before_call(&m) : (saved_t){NULL, 0, {0}};
    pattnResult_t r = __real_pattnForward(handle, params, gen, qkv, out, softmax_lse, rng_state,
                                          softmax);
    if (armed.member == 0)
        after_call(&m, &s, r);
    return r;
}

pattnResult_t __wrap_pattnForwardEmulated(const pattnParams_t *params, pattnGenerator_t *gens,
                                          const void *const *qkv, void *const *out,
                                          float *const *softmax_lse, int64_t *rng_states,
                                          float *const *softmax,
                                          const pattnStepObserver_t *observer)
{
    int k = armed.member;
    member_outputs_t m = {params->dtype, out[k], softmax_lse[k], softmax ? softmax[k] : NULL,
                          rng_states + 2 * k, gens + k};
    saved_t s = before_call(&m);
    pattnResult_t r = __real_pattnForwardEmulated(params, gens, qkv, out, softmax_lse,
                                                  rng_states, softmax, observer);
    after_call(&m, &s, r);
    return r;
}
