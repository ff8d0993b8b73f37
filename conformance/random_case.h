/*
 * random_case.h: --random N, the live cross-check of the cuda backend against the reference.
 * Each configuration is drawn from a seed (reproducible with --seed): dtype fp16/bf16, head_dim
 * a multiple of 8 up to 256, r in 1..4, causal or full, packed with random cu_seqlens_q/k
 * (empty sequences included) or batched, dropout, custom scale (0.5-2x the default),
 * return_softmax, backward; one rank, or (3 draws in 10) a ring of 2-4 members with uneven
 * lengths, either split, batched or packed; half the draws long enough to span several tiles of
 * every kernel, all small enough for the CPU reference.
 */
#ifndef CONF_RANDOM_CASE_H
#define CONF_RANDOM_CASE_H

#include <stddef.h>
#include <stdint.h>

#include "case.h"
#include "run.h"

/* Draws configuration `index` of the run seeded with seed into c (free with case_free), and a
 * one-line description into summary. Half the draws check the backward too, when with_backward
 * (the backend under test has one); the draws are the same either way. */
int random_case_make(uint64_t seed, int index, int with_backward, conf_case_t *c, char *summary,
                     size_t size, conf_error_t *err);

/* Makes what run (the reference) computed the expected arrays of c. */
int random_case_expect(conf_case_t *c, const conf_run_t *run, conf_error_t *err);

#endif /* CONF_RANDOM_CASE_H */
