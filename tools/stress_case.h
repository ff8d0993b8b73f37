/*
 * stress_case.h: one random configuration of pattn-stress -- a single rank or an emulated ring,
 * packed or not, any dtype, mask, dropout and group size -- with its inputs, and what running it
 * through the public API produced.
 */
#ifndef PATTN_STRESS_CASE_H
#define PATTN_STRESS_CASE_H

#include <stddef.h>
#include <stdint.h>

#include "parallel_attn.h"

#define STRESS_MAX_MEMBERS 3
#define STRESS_MAX_SEQS 3

typedef struct stress_case {
    char summary[200];
    pattnParams_t params; /* pipeline 0's call; a ring runs emulated from it */
    int n;                /* ring size: every pipeline is in the one ring */
    int64_t seq_lens[STRESS_MAX_MEMBERS], cp_groups[STRESS_MAX_MEMBERS];
    int64_t rows[STRESS_MAX_MEMBERS];
    int64_t batch;        /* samples (1 when packing) */
    int num_seqs;         /* packing: P */
    /* packing: (n, P + 1) cumulative lengths; cu_k differs from cu_q only for a single rank */
    int32_t cu_q[STRESS_MAX_MEMBERS * (STRESS_MAX_SEQS + 1)];
    int32_t cu_k[STRESS_MAX_MEMBERS * (STRESS_MAX_SEQS + 1)];
    int64_t Hq, Hkv, out_cols;
    int backward;
    pattnGenerator_t gen; /* the state before the forward */
    void *qkv[STRESS_MAX_MEMBERS], *dout[STRESS_MAX_MEMBERS];
} stress_case_t;

/* What one forward (and backward) call computed, member by member. */
typedef struct stress_result {
    pattnResult_t status;
    char message[512];
    size_t out_bytes[STRESS_MAX_MEMBERS], lse_count[STRESS_MAX_MEMBERS],
        dqkv_bytes[STRESS_MAX_MEMBERS];
    void *out[STRESS_MAX_MEMBERS], *dqkv[STRESS_MAX_MEMBERS];
    float *lse[STRESS_MAX_MEMBERS];
    int64_t rng_state[2 * STRESS_MAX_MEMBERS];
} stress_result_t;

/* Draws a configuration and its inputs from the random state; returns 0, or -1 when out of
 * memory. Sizes stay small enough for the float64 oracle. */
int stress_case_make(uint64_t *rng, stress_case_t *c);
void stress_case_free(stress_case_t *c);

/* Allocates r's output buffers for c (poisoned with NaN); returns 0 or -1. */
int stress_result_alloc(const stress_case_t *c, stress_result_t *r);
void stress_result_free(stress_result_t *r);

/* Runs c's forward (and backward) into r; r->status is the first failure or pattnSuccess. */
void stress_case_run(const stress_case_t *c, stress_result_t *r);

/* Whether two results are bit-identical (status, every output byte, rng_state). */
int stress_results_equal(const stress_case_t *c, const stress_result_t *a,
                         const stress_result_t *b);

/* splitmix64 step, and a uniform integer in [lo, hi]. */
uint64_t stress_next(uint64_t *state);
int64_t stress_int(uint64_t *state, int64_t lo, int64_t hi);

#endif /* PATTN_STRESS_CASE_H */
