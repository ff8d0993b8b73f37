/*
 * canary_backend.h: a misbehaving backend for testing the harness's own safeguards. The canary
 * test program is linked with -Wl,--wrap=pattnForward,--wrap=pattnForwardEmulated, so every
 * forward the harness (run.c) makes goes through this layer: it runs the real reference, then,
 * when a damage is armed, spoils the result the way a buggy kernel would. Nothing of it is in
 * the library or in the conformance program.
 */
#ifndef PATTN_CANARY_BACKEND_H
#define PATTN_CANARY_BACKEND_H

#include <stdint.h>

typedef enum canary_damage {
    CANARY_NONE,             /* pass through */
    CANARY_SKIP_OUT,         /* leave out[element] as it was before the call (unwritten) */
    CANARY_SKIP_LSE,         /* leave softmax_lse[element] unwritten */
    CANARY_SKIP_SOFTMAX,     /* leave softmax[element] unwritten */
    CANARY_SKIP_RNG_STATE,   /* leave rng_state unwritten */
    CANARY_FLIP_SIGN,        /* flip the sign bit (the dropout decision) of softmax[element] */
    CANARY_ADVANCE_WRONG     /* advance the generator by 32 more than the call did */
} canary_damage_t;

/* Arms damage for the following forward calls, on ring member `member` (0 for one rank) at
 * flat element index `element` of the damaged array. */
void canary_arm(canary_damage_t damage, int member, int64_t element);

/* Stops damaging (canary_applied keeps its count). */
void canary_disarm(void);

/* Forward calls made since the last canary_arm that the damage was applied to. */
int canary_applied(void);

#endif /* PATTN_CANARY_BACKEND_H */
