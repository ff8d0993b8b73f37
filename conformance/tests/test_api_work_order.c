/*
 * test_api_work_order.c: the persistent executors' order of a launch's work (core/items.h:
 * pattn_persistent_work, pattn_items_uneven), which the CUDA TMA forward follows to the letter.
 *   (a) on random launches, both orders hand out every unit of work exactly once, and a worker
 *       past its end stays past it;
 *   (b) the uneven order is heaviest first across the launch: every item dealt in a turn is at
 *       least as heavy as every item of the next turn;
 *   (c) on the launch the order was made for (causal 16K at d128 on an H200: 128 items of
 *       linearly falling work, 16 heads, 132 workers) the uneven order keeps the busiest
 *       worker within 3% of the mean, where launch order gives one worker 1.5x the mean;
 *   (d) the unevenness test: causal and varlen lists are uneven, a full list with a short
 *       last tile is not;
 *   (e) the deterministic backward's launch order (pattn_ordered_work) runs every unit of work
 *       once; each item of a rep comes after the item before it (which it waits for: a later
 *       launch index could deadlock), by the width of its group of reps (at least 1, at most
 *       the group), and a rep's CTAs lie within one group's launches.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "items.h"
#include "test_api_util.h"

/* Each worker's turns until past the end: counts[x] += 1 for each unit x it is given; the
 * turns of worker i are in order[i * max_turns + k]. */
static int deal(int g, int num_items, int reps, int uneven, int *counts, int *order, int max_turns)
{
    int total = 0;
    for (int i = 0; i < g; ++i) {
        int k = 0, x;
        for (; (x = pattn_persistent_work(k, g, i, num_items, reps, uneven)) >= 0; ++k) {
            cr_assert(x < num_items * reps, "seed %llu: unit %d of %d", (unsigned long long)api_seed,
                      x, num_items * reps);
            cr_assert(k < max_turns, "worker %d takes more than %d turns", i, max_turns);
            counts[x] += 1;
            order[i * max_turns + k] = x;
            ++total;
        }
        for (int extra = 0; extra < 3; ++extra)
            cr_assert_eq(pattn_persistent_work(k + extra, g, i, num_items, reps, uneven), -1,
                         "worker %d is given work after its end", i);
        for (; k < max_turns; ++k)
            order[i * max_turns + k] = -1;
    }
    return total;
}

Test(work_order, every_unit_exactly_once_in_both_orders)
{
    uint64_t rng = api_rng_fresh();
    for (int trial = 0; trial < 300; ++trial) {
        const int g = (int)api_rng_int(&rng, 1, 140), num_items = (int)api_rng_int(&rng, 1, 200);
        const int reps = (int)api_rng_int(&rng, 1, 40), uneven = trial % 2;
        const int units = num_items * reps, max_turns = units / g + 2;
        int *counts = calloc((size_t)units, sizeof *counts);
        int *order = api_malloc(sizeof *order * (size_t)g * (size_t)max_turns);
        cr_assert(counts);
        cr_assert_eq(deal(g, num_items, reps, uneven, counts, order, max_turns), units);
        for (int x = 0; x < units; ++x)
            cr_assert_eq(counts[x], 1, "seed %llu: g %d items %d reps %d uneven %d: unit %d dealt %d "
                         "times", (unsigned long long)api_seed, g, num_items, reps, uneven, x,
                         counts[x]);
        if (uneven) /* (b): items of turn k are no lighter (no later) than those of turn k + 1 */
            for (int k = 0; k + 1 < max_turns; ++k) {
                int latest = -1, earliest = num_items;
                for (int i = 0; i < g; ++i) {
                    const int a = order[i * max_turns + k], b = order[i * max_turns + k + 1];
                    if (a >= 0 && a % num_items > latest)
                        latest = a % num_items;
                    if (b >= 0 && b % num_items < earliest)
                        earliest = b % num_items;
                }
                cr_assert(latest <= earliest, "turn %d deals item %d, turn %d item %d", k, latest,
                          k + 1, earliest);
            }
        free(counts);
        free(order);
    }
}

/* The busiest worker's load over the mean, item x % num_items weighing num_items - item. */
static double busiest_over_mean(int g, int num_items, int reps, int uneven)
{
    double *load = calloc((size_t)g, sizeof *load), total = 0, most = 0;
    cr_assert(load);
    for (int i = 0; i < g; ++i) {
        int x;
        for (int k = 0; (x = pattn_persistent_work(k, g, i, num_items, reps, uneven)) >= 0; ++k)
            load[i] += num_items - x % num_items;
        total += load[i];
        most = load[i] > most ? load[i] : most;
    }
    free(load);
    return most / (total / g);
}

Test(work_order, uneven_order_balances_the_causal_launch_it_was_made_for)
{
    const double lpt = busiest_over_mean(132, 128, 16, 1), launch = busiest_over_mean(132, 128, 16, 0);
    cr_assert(lpt < 1.03, "uneven order: busiest worker %.3fx the mean", lpt);
    cr_assert(launch > 1.5, "launch order: busiest worker %.3fx the mean (the case the uneven "
              "order exists for)", launch);
}

static int uneven_of(const int64_t *work, int64_t count)
{
    pattn_items_t items = {NULL, (int64_t *)work, count};
    return pattn_items_uneven(&items);
}

Test(work_order, causal_and_varlen_lists_are_uneven_a_short_last_tile_is_not)
{
    const int64_t causal[] = {8, 7, 6, 5, 4, 3, 2, 1};
    const int64_t varlen[] = {100, 90, 10, 5, 1};
    const int64_t full_short_tail[] = {8, 8, 8, 8, 8, 3};
    const int64_t one[] = {5};
    cr_assert(uneven_of(causal, 8));
    cr_assert(uneven_of(varlen, 5));
    cr_assert(!uneven_of(full_short_tail, 6));
    cr_assert(!uneven_of(one, 1));
}

Test(work_order, ordered_launch_puts_each_item_a_layer_after_its_predecessor)
{
    uint64_t rng = api_rng_fresh();
    for (int trial = 0; trial < 300; ++trial) {
        const int num_items = (int)api_rng_int(&rng, 1, 200), reps = (int)api_rng_int(&rng, 1, 300);
        const int group = (int)api_rng_int(&rng, 1, 40);
        const int units = num_items * reps;
        int *launched_at = api_malloc(sizeof *launched_at * (size_t)units);
        for (int x = 0; x < units; ++x)
            launched_at[x] = -1;
        for (int x = 0; x < units; ++x) {
            const int w = pattn_ordered_work(x, num_items, reps, group);
            cr_assert(w >= 0 && w < units, "seed %llu: CTA %d runs work %d of %d",
                      (unsigned long long)api_seed, x, w, units);
            cr_assert_eq(launched_at[w], -1, "seed %llu: work %d run by CTAs %d and %d",
                         (unsigned long long)api_seed, w, launched_at[w], x);
            launched_at[w] = x;
        }
        for (int rep = 0; rep < reps; ++rep) {
            const int first = rep / group * group;
            const int width = reps - first < group ? reps - first : group;
            for (int item = 0; item < num_items; ++item) {
                const int x = launched_at[item + num_items * rep];
                cr_assert(x >= first * num_items && x < (first + width) * num_items,
                          "seed %llu: item %d of rep %d launched at %d, outside its group's CTAs "
                          "%d..%d", (unsigned long long)api_seed, item, rep, x, first * num_items,
                          (first + width) * num_items - 1);
                if (item == 0)
                    continue;
                const int gap = x - launched_at[item - 1 + num_items * rep];
                cr_assert(gap >= 1 && gap <= group && gap == width,
                          "seed %llu: items %d and %d of rep %d (of %d) launched %d apart, not "
                          "%d", (unsigned long long)api_seed, item - 1, item, rep, reps, gap, width);
            }
        }
        free(launched_at);
    }
}
