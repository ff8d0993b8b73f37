/*
 * schedule.c: which tiles exist and which tile pairs each ring step computes.
 *
 * Tiles are cut from the plan's runs (core/plan.h), so a tile never straddles a run and its
 * global positions are consecutive. For a tile and a ring step, the pairs come from the plan's
 * blocks of that step: the block's key (or query) run is cut into tiles, and each pair is
 * classified with pattn_block_mask, so positions and masks come from the plan only.
 */
#include <stdlib.h>

#include "reference.h"
#include "status.h"

/* Plan slot of a unit: packed sequences have their own blocks, samples share slot 0. */
static int plan_slot(const pattn_problem_t *p, int unit) { return p->packing ? unit : 0; }

pattnResult_t ref_ring_build(const pattn_problem_t *p, ref_ring_t *ring)
{
    int n = p->n, slots = p->packing ? p->P : 1;
    ring->n = n;
    ring->slots = slots;
    ring->blocks = NULL;
    ring->start = malloc(((size_t)n * n * slots + 1) * sizeof *ring->start);
    if (!ring->start)
        return pattn_error(pattnSystemError, "reference: out of host memory (ring plan index)");
    int64_t total = 0;
    for (int k = 0; k < n; ++k)
        for (int t = 0; t < n; ++t)
            total += pattn_step_blocks(p, k, t, NULL, 0);
    ring->blocks = malloc((size_t)(total > 0 ? total : 1) * sizeof *ring->blocks);
    if (!ring->blocks) {
        ref_ring_free(ring);
        return pattn_error(pattnSystemError, "reference: out of host memory (%lld ring blocks)",
                           (long long)total);
    }
    int64_t at = 0;
    for (int k = 0; k < n; ++k)
        for (int t = 0; t < n; ++t) {
            pattn_block_t *b = ring->blocks + at;
            int count = pattn_step_blocks(p, k, t, b, (int)(total - at));
            /* pattn_step_blocks lists blocks unit by unit: record where each unit starts. */
            int64_t *start = ring->start + ((int64_t)k * n + t) * slots;
            int i = 0;
            for (int s = 0; s < slots; ++s) {
                start[s] = at + i;
                while (i < count && (b[i].unit < 0 ? 0 : b[i].unit) == s)
                    ++i;
            }
            at += count;
        }
    ring->start[(int64_t)n * n * slots] = at;
    return pattnSuccess;
}

void ref_ring_free(ref_ring_t *ring)
{
    free(ring->blocks);
    free(ring->start);
    ring->blocks = NULL;
    ring->start = NULL;
}

/* The blocks of member k at step t that concern unit `unit`. */
static const pattn_block_t *step_blocks(const ref_ctx_t *c, int k, int t, int unit, int64_t *count)
{
    const ref_ring_t *r = &c->ring;
    int64_t i = ((int64_t)k * r->n + t) * r->slots + plan_slot(c->p, unit);
    *count = r->start[i + 1] - r->start[i];
    return r->blocks + r->start[i];
}

pattnResult_t ref_make_tiles(const pattn_problem_t *p, int is_key, int64_t tile_len,
                             ref_tile_t **tiles, int64_t *count)
{
    int64_t units = pattn_num_units(p), total = 0;
    /* Two passes: count, then fill. */
    for (int pass = 0; pass < 2; ++pass) {
        int64_t at = 0;
        for (int k = 0; k < p->n; ++k)
            for (int64_t u = 0; u < units; ++u) {
                pattn_run_t runs[2];
                int nr = pattn_member_runs(p, k, (int)u, is_key, runs);
                for (int r = 0; r < nr; ++r)
                    for (int64_t off = 0; off < runs[r].len; off += tile_len, ++at)
                        if (pass == 1) {
                            int64_t len = runs[r].len - off;
                            (*tiles)[at] = (ref_tile_t){k,
                                                        (int)u,
                                                        runs[r].row,
                                                        runs[r].row + off,
                                                        runs[r].pos + off,
                                                        len < tile_len ? len : tile_len};
                        }
            }
        if (pass == 0) {
            total = at;
            *tiles = malloc((size_t)(total > 0 ? total : 1) * sizeof **tiles);
            if (!*tiles)
                return pattn_error(pattnSystemError, "reference: out of host memory (%lld tiles)",
                                   (long long)total);
        }
    }
    *count = total;
    return pattnSuccess;
}

int64_t ref_tile_qkv_row(const pattn_problem_t *p, const ref_tile_t *t)
{
    return (p->packing ? 0 : t->unit * p->L[t->member]) + t->row;
}

/* Classifies the pair of (sub-)tiles q and k within a block and calls fn unless fully masked. */
static void visit_pair(const ref_ctx_t *c, const pattn_block_t *b, const ref_tile_t *q,
                       const ref_tile_t *k, ref_pair_fn fn, void *user)
{
    pattn_run_t qr = {q->row, q->pos, q->len}, kr = {k->row, k->pos, k->len};
    pattn_mask_t m = pattn_block_mask(c->p, &qr, &kr, b->shift);
    if (m == PATTN_MASK_EMPTY)
        return;
    ref_pair_t pair = {*q, *k, b->shift, m == PATTN_MASK_FULL};
    fn(user, &pair);
}

/* Cuts run r of member `member` into tiles of at most tile_len rows; calls visit_pair with each
 * as the `is_key` side and `fixed` as the other side. */
static void visit_run(const ref_ctx_t *c, const pattn_block_t *b, const ref_tile_t *fixed,
                      int member, const pattn_run_t *r, int is_key, int64_t tile_len,
                      ref_pair_fn fn, void *user)
{
    for (int64_t off = 0; off < r->len; off += tile_len) {
        int64_t len = r->len - off;
        ref_tile_t t = {member, fixed->unit, r->row, r->row + off, r->pos + off,
                        len < tile_len ? len : tile_len};
        if (is_key)
            visit_pair(c, b, fixed, &t, fn, user);
        else
            visit_pair(c, b, &t, fixed, fn, user);
    }
}

void ref_for_each_key_tile(const ref_ctx_t *c, const ref_tile_t *q, int t, ref_pair_fn fn,
                           void *user)
{
    int64_t count;
    const pattn_block_t *b = step_blocks(c, q->member, t, q->unit, &count);
    int j = pattn_step_kv_member(c->p, q->member, t);
    for (int64_t i = 0; i < count; ++i)
        if (b[i].q.row == q->run_row)
            visit_run(c, &b[i], q, j, &b[i].k, 1, REF_BC, fn, user);
}

void ref_for_each_query_tile(const ref_ctx_t *c, const ref_tile_t *k, int t, ref_pair_fn fn,
                             void *user)
{
    int member = (k->member + t) % c->p->n;
    int64_t count;
    const pattn_block_t *b = step_blocks(c, member, t, k->unit, &count);
    for (int64_t i = 0; i < count; ++i)
        if (b[i].k.row == k->run_row)
            visit_run(c, &b[i], k, member, &b[i].q, 0, REF_BR, fn, user);
}
