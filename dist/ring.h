/*
 * ring.h: one member's side of the GPU ring (SPEC sections 2-4), shared by the forward and the
 * backward. dist/ moves blocks and merges; positions, masks and kernel arguments come from the
 * core plan and the CUDA block executor (cuda/step.h), never from here.
 *
 * Two streams: the handle's stream computes, the communicator's stream moves blocks, and events
 * order them: a K/V buffer is sent and received while the other buffer computes (double
 * buffering), so step t + 1's block is in flight while step t computes.
 */
#ifndef PATTN_DIST_RING_H
#define PATTN_DIST_RING_H

#include <cuda_runtime_api.h>

#include "backend.h"
#include "call.h"
#include "comm.h"
#include "ring_profile.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pattn_ring {
    const pattn_problem_t *p;
    pattnComm_t comm;
    double timeout;
    cudaStream_t stream; /* compute */
    int next, prev;      /* world ranks of the ring neighbours (k + 1, k - 1) */
    size_t kv_row_bytes; /* one row of a packed K/V block: 2 Hkv D in the dtype */
    void *kv[2];         /* the two K/V buffers (rows of the longest member) */
    cudaEvent_t ready[2]; /* buffer b holds its step's block */
    cudaEvent_t freed[2]; /* the compute of buffer b's step has read it */
    pattn_cuda_call_t call;
    int profile; /* events below recorded */
    cudaEvent_t step_start[PATTN_MAX_RING], step_end[PATTN_MAX_RING];
    cudaEvent_t hop_start[2 * PATTN_MAX_RING], hop_end[2 * PATTN_MAX_RING]; /* per group */
    int hop_step[2 * PATTN_MAX_RING];
    double hop_bytes[2 * PATTN_MAX_RING];
    int steps_run, hops;
} pattn_ring_t;

/* What the members of a ring must agree on, compared at the start of every call. */
typedef struct pattn_ring_record {
    uint64_t magic;
    uint64_t problem;    /* a digest of the ring's parameters (pattn_ring_digest) */
    uint64_t seed, offset;
    int64_t pipeline;
    int64_t backward;
} pattn_ring_record_t;

/* Starts member p->me's side of a call: checks the communicator and the device, allocates the
 * call's workspace (extra_bytes beyond the two K/V buffers, returned in *extra), and exchanges
 * the members' records (pattnMismatch naming the member that differs). */
pattnResult_t pattn_ring_begin(pattn_ring_t *rg, const pattn_problem_t *p, pattn_rng_t rng,
                               int backward, pattnComm_t comm, double timeout, void **state,
                               cudaStream_t stream, size_t extra_bytes, void **extra);

/* Packs member p->me's own K/V rows of qkv into K/V buffer 0 (step 0's block). */
pattnResult_t pattn_ring_pack_own(pattn_ring_t *rg, const void *qkv);

/* Step t's K/V hop (t + 1 < n): buffer t % 2 (the block of step t) to the next member, buffer
 * (t + 1) % 2 filled with the previous member's (the block of step t + 1), on the
 * communicator's stream, after the compute of step t - 1 has freed it. */
pattnResult_t pattn_ring_kv_hop(pattn_ring_t *rg, int t);

/* Before step t computes on buffer t % 2: the compute stream waits for it; after: marks it freed. */
pattnResult_t pattn_ring_step_begin(pattn_ring_t *rg, int t);
pattnResult_t pattn_ring_step_end(pattn_ring_t *rg, int t);

/* The K/V block of step t as the block executor reads it. */
pattn_cuda_kv_t pattn_ring_block(const pattn_ring_t *rg, int t);

/* One group of transfers of step t on the communicator's stream (with the call's timeout). */
pattnResult_t pattn_ring_group(pattn_ring_t *rg, int t, const pattn_xfer_t *x, int count);

/* Ends the call: waits (at most the timeout) for both streams, releases the call's memory. */
pattnResult_t pattn_ring_end(pattn_ring_t *rg, pattnResult_t r);

/* The digest of everything the members of p's ring must agree on (not the member's own index). */
uint64_t pattn_ring_digest(const pattn_problem_t *p);

#ifdef __cplusplus
}
#endif

#endif /* PATTN_DIST_RING_H */
