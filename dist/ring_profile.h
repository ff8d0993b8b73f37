/*
 * ring_profile.h: per-step timings of a member's ring calls, recorded by the ring's own events
 * when the calling thread asks for them (pattn-bench's ring mode; internal, not in the API).
 */
#ifndef PATTN_DIST_RING_PROFILE_H
#define PATTN_DIST_RING_PROFILE_H

#include "parallel_attn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A step's kernels on the compute stream, and the GPU time of the transfers it posted on the
 * transfer stream (K/V, and in the backward the dK/dV accumulator). */
typedef struct pattn_ring_profile {
    int steps;
    double compute_ms[PATTN_MAX_RING];
    double hop_ms[PATTN_MAX_RING];   /* transfers posted at step t (their GPU time) */
    double hop_bytes[PATTN_MAX_RING];
    double total_ms;                 /* the compute stream, from the call's first step to its end */
} pattn_ring_profile_t;

/* Turns profiling on or off for the calling thread's ring calls (off by default). */
void pattn_ring_profile_enable(int on);
/* The calling thread's last profiled ring call. */
const pattn_ring_profile_t *pattn_ring_last_profile(void);

#ifdef __cplusplus
}
#endif

#endif /* PATTN_DIST_RING_PROFILE_H */
