/*
 * items.h: work items, the unit of work of every executor, built here once for all of them.
 *
 * An item is one tile of the "fixed" side -- up to `tile` consecutive rows of one run (core/plan.h)
 * of one unit, the tile aligned to a global position that is a multiple of `tile` -- and the
 * runs of the other side that the tile meets at one ring step, each with its mask class
 * (core/mask.h). Two orientations:
 *   QUERY_MAJOR (the forward, dQ): tiles of member k's query runs; the runs are the key runs of
 *     member j = pattn_step_kv_member(k, t), whose K/V member k holds at step t;
 *   KEY_MAJOR (dK/dV): tiles of member j's key runs; the runs are member k's query runs.
 * Rows are local rows of the member that holds them (within the sample, or the packed row), and
 * positions global, so masks and dropout counters are those of the whole sequence at every step.
 */
#ifndef PATTN_CORE_ITEMS_H
#define PATTN_CORE_ITEMS_H

#include <stdint.h>

#include "hd.h"
#include "plan.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pattn_item_run {
    int32_t row;    /* local row of the run's first token */
    int32_t pos;    /* its global position */
    int32_t len;
    int32_t shift;  /* causal: key k visible from query q iff pattn_causal_sees(q, k, shift) */
    int32_t causal; /* 0: every pair of this run with the tile's rows is visible */
} pattn_item_run_t;

typedef struct pattn_item {
    int32_t unit;     /* packed sequence (dropout's b, softmax's unit), or -1: every sample */
    int32_t sm_row0;  /* local row of the unit's first query token (return_softmax's row 0) */
    int32_t tile_pos; /* global position of the tile's row 0: a multiple of the tile size */
    int32_t row;      /* the tile's valid rows: local row of the first one, */
    int32_t pos;      /* its global position (tile_pos <= pos), */
    int32_t len;      /* and how many (pos + len <= tile_pos + tile) */
    int32_t num_runs; /* 0 .. PATTN_MAX_RUNS */
    pattn_item_run_t runs[PATTN_MAX_RUNS];
} pattn_item_t;

typedef struct pattn_items {
    pattn_item_t *item;
    int64_t *work; /* visible (query, key) pairs of each item: an estimate of its time */
    int64_t count;
} pattn_items_t;

/* The items of member k at ring step t in orientation o, for tiles of `tile` rows. every_tile = 1
 * lists every tile of the fixed side, also those that meet no run at this step (a FINAL store
 * writes them; executors that walk the steps of one tile index it the same way at every step);
 * every_tile = 0 lists only tiles with a run. Items come in tile order (member runs in order, then
 * ascending positions). Fails with pattnUnsupported when a row or position does not fit in 32
 * bits, pattnSystemError when out of memory; *out is then empty. */
pattnResult_t pattn_items_build(const pattn_problem_t *p, int k, int t, pattn_orient_t o, int tile,
                                int every_tile, pattn_items_t *out);

/* Reorders the items heaviest first (longest-processing-time order), ties in tile order. */
void pattn_items_sort_heaviest(pattn_items_t *items);

/* Whether heaviest-first items are uneven enough to deal them heaviest first across a launch
 * (pattn_persistent_work): the median item has less than 2/3 of the heaviest's work (causal:
 * about 1/2; full attention whose last tile is short: all but one equal). */
int pattn_items_uneven(const pattn_items_t *items);

/* A persistent executor's order of a launch's work: g workers take turns k = 0, 1, ...; the
 * work of worker i's k-th turn, numbered x = item + num_items * rep (rep < reps: the heads x
 * samples one list of items runs for), or -1 past the end. Even lists go in launch order (i,
 * i + g, ...: the workers at work at once share a head's K/V in cache). Uneven ones go rep 0..
 * of item 0, then of item 1, ... (heaviest first across the launch), dealt in a snake: turn k
 * gives worker i position i when k is even and g - 1 - i when it is odd. */
PATTN_HD int pattn_persistent_work(int k, int g, int i, int num_items, int reps, int uneven)
{
    const int64_t t = (int64_t)k * g + (uneven && (k & 1) ? g - 1 - i : i);
    if (t >= (int64_t)num_items * reps)
        return -1;
    return uneven ? (int)(t / reps + (int64_t)num_items * (t % reps)) : (int)t;
}

/* The deterministic fused dQ's launch order (cuda/bwd_tma.cuh with pattn_items_turns), over
 * num_items items x reps (heads x samples), each rep's items in tile order. Launch order (item
 * fastest) starts a rep's items side by side, ~8 at a time as slots free up, and each then
 * waits for the one before it on every sub-tile: a wavefront that idles the SMs for about one
 * step per item started with others. Here the reps go in groups of `group` (the last group may
 * be smaller), and within a group item-slowest: CTA x runs item y / width of rep first + y %
 * width, y = x - the group's first CTA. A rep's item thus comes `width` CTAs after its
 * predecessor, which has walked ahead by then; the group bounds how many reps' Q, dO and dQ are
 * in L2 at once (all reps at once, measured on the H200, was slower than launch order; the
 * kernel's configuration picks the group: cuda/config.h); and a waiting CTA still waits only
 * for lower launch indices (resident or done). group >= 1. */
PATTN_HD int pattn_ordered_work(int x, int num_items, int reps, int group)
{
    const int span = group * num_items, first = x / span * group;
    const int y = x % span, width = reps - first < group ? reps - first : group;
    return y / width + num_items * (first + y % width);
}

void pattn_items_free(pattn_items_t *items);

/* The order in which a step's key-major items may add into the query side, for a fused dQ
 * that must be bit-identical from run to run (cuda/bwd_tma.cuh's deterministic mode). Each
 * query run is cut into sub-tiles of `sub` positions aligned to multiples of sub, as an item
 * walks it; every (sample, query head) has one counter per sub-tile, zeroed before the launch.
 * items[i] adds into a sub-tile once its counter reaches turn[i].rank (the number of items
 * before it in the list with the same unit), and then increments it. That is a fixed order,
 * and a complete one, only if the items that meet a sub-tile are always the first ones of
 * their unit: so every item must meet a subset of the sub-tiles that the unit's previous item
 * meets (true of tile order under the causal and full masks), which this checks. The counter
 * of sub-tile s (a position / sub) of run j of items[i] is turn[i].counter[j] + s, in
 * [0, *counters); *counters <= pattn_items_turn_bound. pattnUnsupported when the items are
 * not nested so, pattnInternalError when a unit has more than PATTN_MAX_RUNS query runs. */
typedef struct pattn_item_turn {
    int32_t rank;
    int32_t counter[PATTN_MAX_RUNS];
} pattn_item_turn_t;

pattnResult_t pattn_items_turns(const pattn_items_t *items, int sub, pattn_item_turn_t *turn,
                                int32_t *counters);

/* The most counters that pattn_items_turns gives for any step of member k (per sample and
 * query head): each distinct query run of len positions has at most len / sub + 2 sub-tiles. */
int64_t pattn_items_turn_bound(const pattn_problem_t *p, int k, int sub);

/* The other side's positions of run r that the item's tile meets: visible from some tile row
 * (every = 0) or from every tile row (every = 1); see pattn_visible_span. */
PATTN_HD void pattn_item_span(const pattn_item_t *it, const pattn_item_run_t *r, pattn_orient_t o,
                              int every, int64_t *lo, int64_t *hi)
{
    pattn_visible_span(o, r->causal, r->shift, it->pos, it->len, every, r->pos, r->len, lo, hi);
}

#ifdef __cplusplus
}
#endif

#endif /* PATTN_CORE_ITEMS_H */
