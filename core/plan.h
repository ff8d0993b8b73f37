/*
 * plan.h: the ring plan, one source of truth for global positions and block masks.
 *
 * Every member's tokens of one unit (a sample, or a packed sequence) form one or two "runs":
 * stretches of consecutive local rows whose global positions are consecutive too (contiguous:
 * one run; sym: a head run and a tail run). At ring step t, member k holds the K/V of member
 * j = (k - t) mod n, and attends its query runs to j's key runs. Each pair of runs is a block
 * whose mask is EMPTY (skipped), FULL, or CAUSAL (per element: key pos <= query pos + shift).
 *
 * Both executors run exactly these blocks: the reference in reference/, the GPU in cuda/ and
 * dist/. A kernel for one block needs only: the rows of the two runs, the global position of
 * their first token, the causal shift, and the unit index (for the dropout counter).
 */
#ifndef PATTN_CORE_PLAN_H
#define PATTN_CORE_PLAN_H

#include "mask.h"
#include "problem.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Runs per member and unit: one (contiguous) or two (sym: head and tail). */
#define PATTN_MAX_RUNS 2

/* Consecutive local rows with consecutive global positions. */
typedef struct pattn_run {
    int64_t row; /* first local row: token index within the unit for samples (the qkv row is
                    b * L + row), or the member's packed token row when packing */
    int64_t pos; /* global position of that first token within its unit's full sequence */
    int64_t len;
} pattn_run_t;

/* One (query run x key run) block of a ring step. */
typedef struct pattn_block {
    int unit;           /* packed sequence index, or -1: the same block for every sample */
    pattn_run_t q, k;
    int64_t shift;      /* causal: key visible iff kpos <= qpos + shift (Nk - Nq of the unit) */
    pattn_mask_t mask;  /* FULL or CAUSAL (EMPTY blocks are not listed) */
} pattn_block_t;

/* Global query and key lengths of unit u (u ignored unless packing). */
void pattn_unit_lengths(const pattn_problem_t *p, int u, int64_t *nq, int64_t *nk);

/* The runs of member k's query (is_key = 0) or key (is_key = 1) tokens of unit u (u ignored
 * unless packing). Returns the number of runs written (0, 1 or 2). */
int pattn_member_runs(const pattn_problem_t *p, int k, int u, int is_key,
                      pattn_run_t runs[PATTN_MAX_RUNS]);

/* Classifies a block (pattn_pairs_mask); shift as in pattn_block_t. */
pattn_mask_t pattn_block_mask(const pattn_problem_t *p, const pattn_run_t *q, const pattn_run_t *k,
                              int64_t shift);

/* Ring member whose K/V member k holds at step t. */
static inline int pattn_step_kv_member(const pattn_problem_t *p, int k, int t)
{
    return ((k - t) % p->n + p->n) % p->n;
}

/* The non-empty blocks of member k at ring step t. Writes at most max_blocks entries and
 * returns how many there are (call with NULL, 0 to count). */
int pattn_step_blocks(const pattn_problem_t *p, int k, int t, pattn_block_t *blocks,
                      int max_blocks);

/* Global position of member k's local token row `row` (within unit u when packing; within the
 * sample otherwise), or -1 when the member has no such row. For debugging and the plan's tests. */
int64_t pattn_global_position(const pattn_problem_t *p, int k, int u, int is_key, int64_t row);

#ifdef __cplusplus
}
#endif

#endif /* PATTN_CORE_PLAN_H */
