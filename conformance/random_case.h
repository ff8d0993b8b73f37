/*
 * random_case.h: --random N, the live cross-check of a backend against the float64 oracle.
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
 * one-line description into summary. Half the draws check the backward too. */
int random_case_make(uint64_t seed, int index, conf_case_t *c, char *summary,
                     size_t size, conf_error_t *err);

/* The expected arrays of c: out, lse and dqkv from the float64 oracle (oracle.h); rng_state, and
 * the softmax when softmax_from_run, from run (the reference: the oracle has no softmax layout).
 * Sets c's tolerance to FlashAttention's rule, measured for this draw: naive_err_out and
 * naive_err_dqkv are the naive same-dtype model's max errors against the oracle, and atol_out /
 * atol_dqkv are 2x / 3x those plus the dtype's rounding noise at the expected values (the fixed
 * table's absolute parts are sized for the golden cases' magnitudes; a draw's gradients reach
 * 10x those), so a tensor passes when its max error is within the rule. The baselines are the
 * maxima over every pipeline, and dqkv is one tensor, as naive_err_dqkv is for the golden cases
 * (FlashAttention applies the rule to dq, dk and dv apart, which is stricter where their
 * magnitudes differ). A draw where the naive model overflows has no baseline and fails. */
int random_case_expect(conf_case_t *c, const conf_run_t *run, int softmax_from_run,
                       conf_error_t *err);

#endif /* CONF_RANDOM_CASE_H */
