/*
 * reference.h: internal interfaces of the CPU reference backend (the files of reference/).
 *
 * The work is cut the way the GPU backend cuts it, by the same core work items (core/items.h):
 * - schedule.c builds the items of every member and ring step and, for one tile and one step,
 *   enumerates the sub-tiles of the other side that the tile's item meets, each with its mask;
 * - tiles.c loads tiles to fp32, computes scores with sgemm, masks them, generates the dropout
 *   bytes of a tile pair, and stores results back to the dtype;
 * - attend.c is the step executor (one query tile, one ring step: online softmax, dropout, P V);
 * - forward.c is the ring driver (steps, LSE merges, the observer), softmax_matrix.c the
 *   return_softmax pass, backward.c the deterministic backward;
 * - parallel.c runs a task list over OpenMP threads, each with its own tile-sized workspace,
 *   with the BLAS kept single-threaded meanwhile (blas_threads.c).
 * Memory: O(tile) per thread, the backward's rowsum(dO * O) (one float per row and head) and,
 * only with an observer, the step partials it receives; no L x L matrix is ever formed.
 */
#ifndef PATTN_REFERENCE_H
#define PATTN_REFERENCE_H

#include <stdint.h>

#include "backend.h"
#include "items.h"

/* Query rows and keys per tile. 256 query rows halve the K/V tile loads per score against 128
 * (measured ~5% faster at head_dim 128). */
#define REF_BR 256
#define REF_BC 128

/* A tile of consecutive rows of one member, within one unit, with consecutive global positions. */
typedef struct ref_tile {
    int member;   /* ring member holding the rows */
    int unit;     /* sample b (not packed) or packed sequence u: dropout's b, lse's unit */
    int64_t item; /* fixed-side tiles: index of the tile's item in its member's lists (the same
                     at every ring step); -1 for the other side's sub-tiles */
    int64_t row;  /* first row: token index within the sample, or the member's packed row */
    int64_t pos;  /* global position of the first row */
    int64_t len;
} ref_tile_t;

/* A query tile and a key tile that meet at one ring step. */
typedef struct ref_pair {
    ref_tile_t q, k;
    int64_t shift; /* causal: key visible iff pattn_causal_sees(qpos, kpos, shift) */
    int full;      /* every key visible from every query: no per-element mask */
} ref_pair_t;

/* The work items (core/items.h) of every (member, ring step) in one orientation: query tiles of
 * REF_BR rows, or key tiles of REF_BC keys, every tile listed at every step. */
typedef struct ref_items {
    int n;
    pattn_items_t *of; /* [k * n + t]: member k's items at step t */
} ref_items_t;

/* Everything a task reads: the problem, the generator, the items, the arrays. */
typedef struct ref_ctx {
    const pattn_problem_t *p;
    pattn_rng_t rng;
    ref_items_t queries; /* query-major items */
    ref_items_t keys;    /* key-major items (the backward) */
    const void *const *qkv; /* per member */
} ref_ctx_t;

/* Per-thread tile buffers (fp32 unless noted), sized for REF_BR x REF_BC tiles of head_dim D. */
typedef struct ref_work {
    float *q, *k, *v;  /* REF_BR x D, REF_BC x D, REF_BC x D */
    float *s, *dp;     /* REF_BR x REF_BC: scores / probabilities, dP */
    float *o, *acc;    /* REF_BR x D: step accumulator, merged result (forward); dO, dQ (backward) */
    float *part;       /* REF_BR x D: a step's normalised partial */
    float *dk, *dv;    /* REF_BC x D (backward) */
    float *m, *l, *lse, *part_lse, *dsum; /* REF_BR rows */
    uint8_t *keep;     /* REF_BR x REF_BC dropout bytes */
} ref_work_t;

/* Row loops compiled for AVX-512, AVX2 and baseline x86-64 and picked at load time (GCC/Clang
 * function multiversioning on glibc), so that a portable build still uses wide vectors. */
#if defined(__x86_64__) && defined(__ELF__) && defined(__GLIBC__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define REF_MULTIVERSION __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
#endif
#ifndef REF_MULTIVERSION
#define REF_MULTIVERSION
#endif

/* ---------------------------------------------------------------- schedule.c */
/* Builds the items of every member and step in orientation o (into c->queries or c->keys). */
pattnResult_t ref_items_build(ref_ctx_t *c, pattn_orient_t o);
/* Frees both orientations' items. */
void ref_items_free(ref_ctx_t *c);

/* The fixed-side tiles of every member (one per item and sample), from the items of
 * orientation o: query tiles or key tiles. The caller frees *tiles. */
pattnResult_t ref_make_tiles(const ref_ctx_t *c, pattn_orient_t o, ref_tile_t **tiles,
                             int64_t *count);

/* The row of a tile's first row in its member's qkv, out, dout and dqkv arrays. */
int64_t ref_tile_qkv_row(const pattn_problem_t *p, const ref_tile_t *t);

typedef void (*ref_pair_fn)(void *user, const ref_pair_t *pair);

/* Calls fn for every key tile (at most REF_BC keys, aligned to global multiples of REF_BC) that
 * query tile q attends at ring step t, in a fixed order, skipping fully masked pairs. */
void ref_for_each_key_tile(const ref_ctx_t *c, const ref_tile_t *q, int t, ref_pair_fn fn,
                           void *user);

/* Calls fn for every query tile (at most REF_BR rows, aligned to global multiples of REF_BR)
 * that attends key tile k at the ring step t where member (k.member + t) mod n holds k's K/V, in
 * a fixed order, skipping fully masked pairs. */
void ref_for_each_query_tile(const ref_ctx_t *c, const ref_tile_t *k, int t, ref_pair_fn fn,
                             void *user);

/* ---------------------------------------------------------------- tiles.c */
/* dst[i * D + d] = src[(row0 + i) * ld + col0 + d] as fp32, for i < nrows, d < D. */
void ref_load_rows(pattnDtype_t dtype, const void *src, int64_t ld, int64_t row0, int64_t nrows,
                   int64_t col0, int64_t D, float *dst);
/* dst[(row0 + i) * ld + col0 + d] = src[i * D + d] rounded to dtype. */
void ref_store_rows(pattnDtype_t dtype, void *dst, int64_t ld, int64_t row0, int64_t nrows,
                    int64_t col0, int64_t D, const float *src);

/* w->s = scale * Q K^T for the pair (w->q: pair->q.len rows, w->k: pair->k.len rows), masked
 * entries set to -inf. */
void ref_scores(const ref_ctx_t *c, ref_work_t *w, const ref_pair_t *pair);

/* w->keep[i * REF_BC + j] = the dropout byte of (query pair->q.pos + i, key pair->k.pos + j) of
 * unit pair->q.unit and query head h. */
void ref_dropout_bytes(const ref_ctx_t *c, ref_work_t *w, const ref_pair_t *pair, int64_t h);

/* ---------------------------------------------------------------- row_kernels.c */
/* The largest of s[0..n-1] (-inf when n == 0 or all are -inf). */
float ref_row_max(const float *s, int64_t n);
/* s[j] = exp(s[j] - shift) (fast_exp.h); returns the sum. */
float ref_row_exp(float *s, int64_t n, float shift);
/* x[j] *= f. */
void ref_row_scale(float *x, int64_t n, float f);
/* dst[j] = src[j] * f where keep[j] <= threshold, else 0 (dst may be src). */
void ref_row_dropout(float *dst, const float *src, const uint8_t *keep, int64_t n,
                     uint8_t threshold, float f);
/* s[j] = s[j] * (dp[j] - dsum): dS from P and dP. */
void ref_row_score_grad(float *s, const float *dp, int64_t n, float dsum);
/* dst[j] = src[j] as fp32, src holding binary16 or bfloat16 bit patterns. */
void ref_row_from_fp16(const uint16_t *src, int64_t n, float *dst);
void ref_row_from_bf16(const uint16_t *src, int64_t n, float *dst);

/* ---------------------------------------------------------------- blas_threads.c */
/* Makes a pthreads OpenBLAS single-threaded; returns what ref_blas_threads_end must restore. */
int ref_blas_threads_begin(void);
void ref_blas_threads_end(int saved);

/* ---------------------------------------------------------------- parallel.c */
typedef void (*ref_task_fn)(const ref_ctx_t *c, ref_work_t *w, int64_t task, void *user);

/* Runs fn for tasks 0..count-1 over the OpenMP threads (dynamic schedule), each thread with its
 * own workspace. Fails only when a workspace cannot be allocated. */
pattnResult_t ref_parallel_tasks(const ref_ctx_t *c, int64_t count, ref_task_fn fn, void *user);

/* ---------------------------------------------------------------- attend.c */
/* Member q->member's partial of ring step t for query tile q and query head h (w->q holds the
 * tile's Q): w->part (q->len x D, normalised, dropout applied) and w->part_lse (-inf and zeros
 * for rows that saw no key at this step). */
void ref_attend_step(const ref_ctx_t *c, ref_work_t *w, const ref_tile_t *q, int64_t h, int t);

/* ---------------------------------------------------------------- softmax_matrix.c */
pattnResult_t ref_softmax_matrix(const ref_ctx_t *c, const pattn_fwd_io_t *io);

/* ---------------------------------------------------------------- forward.c, backward.c */
pattnResult_t ref_forward(const pattn_problem_t *p, pattn_rng_t rng, const pattn_fwd_io_t *io);
pattnResult_t ref_backward(const pattn_problem_t *p, pattn_rng_t rng, const pattn_bwd_io_t *io);

#endif /* PATTN_REFERENCE_H */
