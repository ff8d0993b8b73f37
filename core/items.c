/*
 * items.c: cuts the plan's blocks of one member and ring step into work items (items.h). The
 * fixed side's runs are cut into tiles aligned to global positions; each tile carries the other
 * side's runs of the blocks that meet its run, classified again for the tile alone with
 * pattn_pairs_mask (core/mask.h), so a run the causal mask hides from the whole tile is dropped
 * and one it shows entirely loses its per-element mask.
 */
#include "items.h"

#include <limits.h>
#include <stdlib.h>

#include "status.h"

/* The blocks of member k at step t, malloc'ed. */
static pattnResult_t step_blocks(const pattn_problem_t *p, int k, int t, pattn_block_t **blocks,
                                 int *count)
{
    *count = pattn_step_blocks(p, k, t, NULL, 0);
    *blocks = malloc((size_t)(*count > 0 ? *count : 1) * sizeof **blocks);
    if (!*blocks)
        return pattn_error(pattnSystemError, "work items: out of host memory for %d blocks",
                           *count);
    pattn_step_blocks(p, k, t, *blocks, *count);
    return pattnSuccess;
}

/* Rows and positions travel as int32: every member's rows and every unit's length must fit. */
static pattnResult_t check_32bit(const pattn_problem_t *p)
{
    for (int m = 0; m < p->n; ++m)
        if (p->rows[m] > INT32_MAX)
            return pattn_error(pattnUnsupported,
                               "work items: member %d has %lld rows; rows and positions must fit "
                               "in 32 bits",
                               m, (long long)p->rows[m]);
    for (int u = 0; u < (p->packing ? p->P : 1); ++u) {
        int64_t nq, nk;
        pattn_unit_lengths(p, u, &nq, &nk);
        if (nq > INT32_MAX || nk > INT32_MAX)
            return pattn_error(pattnUnsupported,
                               "work items: unit %d spans %lld queries and %lld keys; positions "
                               "must fit in 32 bits",
                               u, (long long)nq, (long long)nk);
    }
    return pattnSuccess;
}

/* Visible (query, key) pairs between the tile [x0, x0 + nx) and run r. */
static int64_t visible_pairs(pattn_orient_t o, int64_t x0, int64_t nx, const pattn_item_run_t *r)
{
    if (!r->causal)
        return nx * r->len;
    int64_t pairs = 0;
    for (int64_t x = x0; x < x0 + nx; ++x) {
        int64_t lo, hi;
        pattn_visible_span(o, 1, r->shift, x, 1, 0, r->pos, r->len, &lo, &hi);
        pairs += hi > lo ? hi - lo : 0;
    }
    return pairs;
}

/* Adds to item `it` the other side of block b, as met by the tile's rows; returns its pairs. */
static int64_t add_run(pattn_item_t *it, const pattn_block_t *b, pattn_orient_t o)
{
    const pattn_run_t *other = o == PATTN_QUERY_MAJOR ? &b->k : &b->q;
    pattn_mask_t m = o == PATTN_QUERY_MAJOR
                         ? pattn_pairs_mask(b->mask == PATTN_MASK_CAUSAL, it->pos, it->len,
                                            other->pos, other->len, b->shift)
                         : pattn_pairs_mask(b->mask == PATTN_MASK_CAUSAL, other->pos, other->len,
                                            it->pos, it->len, b->shift);
    if (m == PATTN_MASK_EMPTY)
        return 0;
    pattn_item_run_t *r = &it->runs[it->num_runs++];
    *r = (pattn_item_run_t){(int32_t)other->row, (int32_t)other->pos, (int32_t)other->len,
                            (int32_t)b->shift, m == PATTN_MASK_CAUSAL};
    return visible_pairs(o, it->pos, it->len, r);
}

/* Appends an item to out (capacity cap). */
static pattnResult_t push(pattn_items_t *out, int64_t *cap, const pattn_item_t *it, int64_t work)
{
    if (out->count == *cap) {
        int64_t n = *cap ? 2 * *cap : 64;
        pattn_item_t *item = realloc(out->item, (size_t)n * sizeof *item);
        if (item)
            out->item = item;
        int64_t *w = item ? realloc(out->work, (size_t)n * sizeof *w) : NULL;
        if (!w)
            return pattn_error(pattnSystemError, "work items: out of host memory for %lld items",
                               (long long)n);
        out->work = w;
        *cap = n;
    }
    out->item[out->count] = *it;
    out->work[out->count++] = work;
    return pattnSuccess;
}

/* The tiles of the fixed-side run `fixed` of unit u, each with the other side of the blocks that
 * meet that run. */
static pattnResult_t cut_run(const pattn_problem_t *p, int k, int u, const pattn_run_t *fixed,
                             pattn_orient_t o, int tile, int every_tile,
                             const pattn_block_t *blocks, int nb, pattn_items_t *out,
                             int64_t *cap)
{
    const pattn_block_t *mine[PATTN_MAX_RUNS];
    int nm = 0;
    for (int i = 0; i < nb; ++i) {
        const pattn_run_t *f = o == PATTN_QUERY_MAJOR ? &blocks[i].q : &blocks[i].k;
        if (blocks[i].unit != (p->packing ? u : -1) || f->row != fixed->row)
            continue;
        if (nm == PATTN_MAX_RUNS)
            return pattn_error(pattnInternalError,
                               "work items: a run of unit %d meets more than %d runs", u,
                               PATTN_MAX_RUNS);
        mine[nm++] = &blocks[i];
    }
    int64_t end = fixed->pos + fixed->len;
    for (int64_t t0 = fixed->pos / tile * tile; t0 < end; t0 += tile) {
        int64_t lo = t0 > fixed->pos ? t0 : fixed->pos, hi = t0 + tile < end ? t0 + tile : end;
        pattn_item_t it = {0};
        it.unit = p->packing ? u : -1;
        it.sm_row0 = p->packing ? p->cu_q[k][u] : 0;
        it.tile_pos = (int32_t)t0;
        it.row = (int32_t)(fixed->row + (lo - fixed->pos));
        it.pos = (int32_t)lo;
        it.len = (int32_t)(hi - lo);
        int64_t work = 0;
        for (int m = 0; m < nm; ++m)
            work += add_run(&it, mine[m], o);
        if (it.num_runs == 0 && !every_tile)
            continue;
        pattnResult_t r = push(out, cap, &it, work);
        if (r != pattnSuccess)
            return r;
    }
    return pattnSuccess;
}

pattnResult_t pattn_items_build(const pattn_problem_t *p, int k, int t, pattn_orient_t o, int tile,
                                int every_tile, pattn_items_t *out)
{
    *out = (pattn_items_t){NULL, NULL, 0};
    if (tile <= 0)
        return pattn_error(pattnInternalError, "pattn_items_build: tile = %d", tile);
    pattnResult_t r = check_32bit(p);
    if (r != pattnSuccess)
        return r;
    pattn_block_t *blocks;
    int nb;
    if ((r = step_blocks(p, k, t, &blocks, &nb)) != pattnSuccess)
        return r;
    /* The fixed side: member k's queries, or the keys of the member whose K/V k holds. */
    int holder = o == PATTN_QUERY_MAJOR ? k : pattn_step_kv_member(p, k, t);
    int64_t cap = 0;
    for (int u = 0; r == pattnSuccess && u < (p->packing ? p->P : 1); ++u) {
        pattn_run_t runs[PATTN_MAX_RUNS];
        int nr = pattn_member_runs(p, holder, u, o == PATTN_KEY_MAJOR, runs);
        for (int i = 0; r == pattnSuccess && i < nr; ++i)
            r = cut_run(p, k, u, &runs[i], o, tile, every_tile, blocks, nb, out, &cap);
    }
    free(blocks);
    if (r != pattnSuccess)
        pattn_items_free(out);
    return r;
}

typedef struct ranked {
    int64_t work, index;
} ranked_t;

static int heavier_first(const void *a, const void *b)
{
    const ranked_t *x = a, *y = b;
    if (x->work != y->work)
        return x->work > y->work ? -1 : 1;
    return x->index < y->index ? -1 : (x->index > y->index);
}

void pattn_items_sort_heaviest(pattn_items_t *items)
{
    int64_t n = items->count;
    ranked_t *rank = malloc((size_t)(n > 0 ? n : 1) * sizeof *rank);
    pattn_item_t *sorted = malloc((size_t)(n > 0 ? n : 1) * sizeof *sorted);
    if (rank && sorted) {
        for (int64_t i = 0; i < n; ++i)
            rank[i] = (ranked_t){items->work[i], i};
        qsort(rank, (size_t)n, sizeof *rank, heavier_first);
        for (int64_t i = 0; i < n; ++i)
            sorted[i] = items->item[rank[i].index];
        for (int64_t i = 0; i < n; ++i) {
            items->item[i] = sorted[i];
            items->work[i] = rank[i].work;
        }
    } /* out of memory: the items keep tile order, which is only slower */
    free(rank);
    free(sorted);
}

int pattn_items_uneven(const pattn_items_t *items)
{
    const int64_t *w = items->work;
    return items->count > 1 && 3 * w[items->count / 2] < 2 * w[0];
}

void pattn_items_free(pattn_items_t *items)
{
    free(items->item);
    free(items->work);
    *items = (pattn_items_t){NULL, NULL, 0};
}

/* A distinct query run of one unit, as pattn_items_turns meets it: where its counters start,
 * and the sub-tiles [lo, hi] that the unit's previous item met (lo > hi: none). */
typedef struct turn_run {
    int32_t row, pos, base;
    int64_t lo, hi;
} turn_run_t;

pattnResult_t pattn_items_turns(const pattn_items_t *items, int sub, pattn_item_turn_t *turn,
                                int32_t *counters)
{
    *counters = 0;
    if (sub <= 0)
        return pattn_error(pattnInternalError, "pattn_items_turns: sub = %d", sub);
    int units = 1;
    for (int64_t i = 0; i < items->count; ++i)
        if (items->item[i].unit + 1 > units)
            units = items->item[i].unit + 1;
    turn_run_t *runs = calloc((size_t)units * PATTN_MAX_RUNS, sizeof *runs);
    int32_t *seen = calloc((size_t)units, sizeof *seen), *nruns = calloc((size_t)units, sizeof *nruns);
    pattnResult_t r = runs && seen && nruns
                          ? pattnSuccess
                          : pattn_error(pattnSystemError, "pattn_items_turns: out of host memory");
    int64_t total = 0;
    for (int64_t i = 0; r == pattnSuccess && i < items->count; ++i) {
        const pattn_item_t *it = &items->item[i];
        const int u = it->unit < 0 ? 0 : it->unit;
        turn_run_t *mine = runs + (size_t)u * PATTN_MAX_RUNS;
        int64_t lo[PATTN_MAX_RUNS], hi[PATTN_MAX_RUNS]; /* this item's sub-tiles of each run */
        for (int s = 0; s < PATTN_MAX_RUNS; ++s)
            lo[s] = 1, hi[s] = 0;
        turn[i].rank = seen[u]++;
        for (int j = 0; j < PATTN_MAX_RUNS; ++j)
            turn[i].counter[j] = 0;
        for (int j = 0; r == pattnSuccess && j < it->num_runs; ++j) {
            const pattn_item_run_t *run = &it->runs[j];
            int s = 0;
            while (s < nruns[u] && (mine[s].row != run->row || mine[s].pos != run->pos))
                ++s;
            if (s == nruns[u]) {
                if (s == PATTN_MAX_RUNS) {
                    r = pattn_error(pattnInternalError,
                                    "pattn_items_turns: unit %d has more than %d query runs",
                                    it->unit, PATTN_MAX_RUNS);
                    break;
                }
                const int64_t first = run->pos / sub, last = (run->pos + run->len - 1) / sub;
                mine[s] = (turn_run_t){run->row, run->pos, (int32_t)(total - first), 1, 0};
                total += run->len > 0 ? last - first + 1 : 0;
                ++nruns[u];
            }
            turn[i].counter[j] = mine[s].base;
            int64_t a, b;
            pattn_item_span(it, run, PATTN_KEY_MAJOR, 0, &a, &b);
            if (b > a)
                lo[s] = a / sub, hi[s] = (b - 1) / sub;
        }
        for (int s = 0; r == pattnSuccess && s < nruns[u]; ++s) {
            const int nested = lo[s] > hi[s] || (mine[s].lo <= lo[s] && hi[s] <= mine[s].hi);
            if (turn[i].rank > 0 && !nested)
                r = pattn_error(pattnUnsupported,
                                "pattn_items_turns: item %lld (unit %d) meets query sub-tiles "
                                "%lld..%lld of the run at position %d, which the unit's previous "
                                "item does not all meet: no fixed order of dQ's additions",
                                (long long)i, it->unit, (long long)lo[s], (long long)hi[s],
                                mine[s].pos);
            mine[s].lo = lo[s];
            mine[s].hi = hi[s];
        }
    }
    if (r == pattnSuccess && total > INT32_MAX)
        r = pattn_error(pattnUnsupported, "pattn_items_turns: %lld counters exceed 32 bits",
                        (long long)total);
    if (r == pattnSuccess)
        *counters = (int32_t)total;
    free(runs);
    free(seen);
    free(nruns);
    return r;
}

int64_t pattn_items_turn_bound(const pattn_problem_t *p, int k, int sub)
{
    const int64_t units = p->packing ? p->P : 1;
    return pattn_sample_rows(p, k) / sub + 2 * PATTN_MAX_RUNS * units;
}
