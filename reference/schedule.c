/*
 * schedule.c: which tiles exist and which tile pairs each ring step computes, read off the core
 * work items (core/items.h), so positions and masks come from the plan and core/mask.h only.
 *
 * The items of every (member, step) are built once per call, every tile listed at every step,
 * so a task that walks the ring steps of one tile finds it at the same index at each step. For a
 * tile and a step, the other side's runs of its item are cut into sub-tiles at global multiples
 * of the sub-tile size, and each pair is classified again with pattn_pairs_mask.
 */
#include <stdlib.h>

#include "reference.h"
#include "status.h"

static ref_items_t *items_of(ref_ctx_t *c, pattn_orient_t o)
{
    return o == PATTN_QUERY_MAJOR ? &c->queries : &c->keys;
}

pattnResult_t ref_items_build(ref_ctx_t *c, pattn_orient_t o)
{
    const pattn_problem_t *p = c->p;
    ref_items_t *it = items_of(c, o);
    it->n = p->n;
    it->of = calloc((size_t)p->n * p->n, sizeof *it->of);
    if (!it->of)
        return pattn_error(pattnSystemError, "reference: out of host memory (ring item lists)");
    int tile = o == PATTN_QUERY_MAJOR ? REF_BR : REF_BC;
    for (int k = 0; k < p->n; ++k)
        for (int t = 0; t < p->n; ++t) {
            pattnResult_t r = pattn_items_build(p, k, t, o, tile, 1, &it->of[k * p->n + t]);
            if (r != pattnSuccess)
                return r;
        }
    return pattnSuccess;
}

void ref_items_free(ref_ctx_t *c)
{
    ref_items_t *lists[2] = {&c->queries, &c->keys};
    for (int l = 0; l < 2; ++l) {
        for (int i = 0; lists[l]->of && i < lists[l]->n * lists[l]->n; ++i)
            pattn_items_free(&lists[l]->of[i]);
        free(lists[l]->of);
        lists[l]->of = NULL;
    }
}

/* The items of step t that hold the fixed-side tile of member `member`: member's own query
 * items, or the key items of the member that holds member's K/V at step t. */
static const pattn_items_t *step_items(const ref_ctx_t *c, pattn_orient_t o, int member, int t)
{
    int n = c->p->n;
    if (o == PATTN_QUERY_MAJOR)
        return &c->queries.of[member * n + t];
    return &c->keys.of[((member + t) % n) * n + t];
}

pattnResult_t ref_make_tiles(const ref_ctx_t *c, pattn_orient_t o, ref_tile_t **tiles,
                             int64_t *count)
{
    const pattn_problem_t *p = c->p;
    int64_t total = 0;
    for (int k = 0; k < p->n; ++k) {
        const pattn_items_t *its = step_items(c, o, k, 0);
        for (int64_t i = 0; i < its->count; ++i)
            total += its->item[i].unit >= 0 ? 1 : p->B;
    }
    *tiles = malloc((size_t)(total > 0 ? total : 1) * sizeof **tiles);
    if (!*tiles)
        return pattn_error(pattnSystemError, "reference: out of host memory (%lld tiles)",
                           (long long)total);
    int64_t at = 0;
    for (int k = 0; k < p->n; ++k) {
        const pattn_items_t *its = step_items(c, o, k, 0);
        for (int64_t i = 0; i < its->count; ++i) {
            const pattn_item_t *it = &its->item[i];
            int64_t first = it->unit >= 0 ? it->unit : 0, last = it->unit >= 0 ? it->unit : p->B - 1;
            for (int64_t b = first; b <= last; ++b)
                (*tiles)[at++] = (ref_tile_t){k, (int)b, i, it->row, it->pos, it->len};
        }
    }
    *count = total;
    return pattnSuccess;
}

int64_t ref_tile_qkv_row(const pattn_problem_t *p, const ref_tile_t *t)
{
    return (p->packing ? 0 : t->unit * p->L[t->member]) + t->row;
}

/* Calls fn for the sub-tiles (of at most `sub` rows) of the other side of fixed's item it. */
static void visit_item(const ref_ctx_t *c, const pattn_item_t *it, pattn_orient_t o,
                       const ref_tile_t *fixed, int other_member, ref_pair_fn fn, void *user)
{
    int64_t sub = o == PATTN_QUERY_MAJOR ? REF_BC : REF_BR;
    for (int i = 0; i < it->num_runs; ++i) {
        const pattn_item_run_t *r = &it->runs[i];
        int64_t lo, hi;
        pattn_item_span(it, r, o, 0, &lo, &hi);
        for (int64_t s0 = lo / sub * sub; s0 < hi; s0 += sub) {
            int64_t a = s0 > lo ? s0 : lo, b = s0 + sub < hi ? s0 + sub : hi;
            ref_tile_t other = {other_member, fixed->unit, -1, r->row + (a - r->pos), a, b - a};
            const ref_tile_t *q = o == PATTN_QUERY_MAJOR ? fixed : &other;
            const ref_tile_t *k = o == PATTN_QUERY_MAJOR ? &other : fixed;
            pattn_mask_t m = pattn_pairs_mask(r->causal, q->pos, q->len, k->pos, k->len, r->shift);
            if (m == PATTN_MASK_EMPTY)
                continue;
            ref_pair_t pair = {*q, *k, r->shift, m == PATTN_MASK_FULL};
            fn(user, &pair);
        }
    }
}

void ref_for_each_key_tile(const ref_ctx_t *c, const ref_tile_t *q, int t, ref_pair_fn fn,
                           void *user)
{
    const pattn_item_t *it = &step_items(c, PATTN_QUERY_MAJOR, q->member, t)->item[q->item];
    visit_item(c, it, PATTN_QUERY_MAJOR, q, pattn_step_kv_member(c->p, q->member, t), fn, user);
}

void ref_for_each_query_tile(const ref_ctx_t *c, const ref_tile_t *k, int t, ref_pair_fn fn,
                             void *user)
{
    const pattn_item_t *it = &step_items(c, PATTN_KEY_MAJOR, k->member, t)->item[k->item];
    visit_item(c, it, PATTN_KEY_MAJOR, k, (k->member + t) % c->p->n, fn, user);
}
