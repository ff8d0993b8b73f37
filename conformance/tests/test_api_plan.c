/*
 * test_api_plan.c: the ring plan (core/plan.h) against the SPEC, on random rings.
 *
 * On random rings of sizes 1..8 with uneven lengths (odd, 1, and 0 for packed pieces), and
 * exhaustively on every length vector 0..4 of rings of 1..3 members (plan/sweep_*), both split
 * patterns, causal and full, packed and not (a single packed member with cu_seqlens_k !=
 * cu_seqlens_q):
 *   (a) the runs of all members tile every unit's global sequence exactly once, with the global
 *       positions the SPEC's split formulas give (api_split_position, written from the SPEC);
 *   (b) the blocks of all ring steps, expanded element by element by their mask and shift, cover the
 *       global mask computed directly from positions exactly once;
 *   (c) no listed block is EMPTY, a FULL block has every element visible, a CAUSAL block has
 *       both visible and hidden elements;
 *   (d) the deterministic fused dQ's order (core/items.h: pattn_items_turns) on every member's
 *       key-major items of every step, with small tiles and sub-tiles so that the items meet
 *       many: each item's rank is, for every query sub-tile it meets, the number of items
 *       before it that meet that sub-tile, and distinct sub-tiles have distinct counters within
 *       the bound; a list whose later item meets more than an earlier one is refused.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "items.h"
#include "plan.h"
#include "test_api_util.h"

#define MAX_N 8
#define MAX_UNITS 3

typedef struct plan_case {
    int n, me, units;
    int packing, causal;
    pattnSplit_t split;
    /* Local length of member k's piece of unit u, for queries and keys (equal unless packed
     * without a ring, where cu_seqlens_q and cu_seqlens_k may differ). */
    int64_t len_q[MAX_N][MAX_UNITS], len_k[MAX_N][MAX_UNITS];
    int64_t seq_lens[MAX_N], cp_groups[MAX_N];
    int32_t cu_q[MAX_N * (MAX_UNITS + 1)], cu_k[MAX_N * (MAX_UNITS + 1)];
    pattnParams_t params;
    pattn_problem_t prob;
} plan_case_t;

static void fill_cumulative(int32_t *cu, const int64_t *lens, int units)
{
    cu[0] = 0;
    for (int u = 0; u < units; ++u)
        cu[u + 1] = cu[u] + (int32_t)lens[u];
}

/* Splits total into `parts` random non-negative pieces (packed keys differing from queries). */
static void random_split(uint64_t *rng, int64_t total, int parts, int64_t *pieces)
{
    int64_t left = total;
    for (int u = 0; u < parts - 1; ++u) {
        pieces[u] = api_rng_int(rng, 0, left);
        left -= pieces[u];
    }
    pieces[parts - 1] = left;
}

/* Fills the lengths-derived fields of c (seq_lens, cu_seqlens, params) and builds its problem;
 * c->n, me, units, packing, causal, split, len_q and len_k must be set. */
static void plan_case_build(plan_case_t *c)
{
    for (int k = 0; k < c->n; ++k) {
        c->seq_lens[k] = 0;
        for (int u = 0; u < c->units; ++u)
            c->seq_lens[k] += c->len_q[k][u];
        c->cp_groups[k] = 3;
        fill_cumulative(c->cu_q + k * (c->units + 1), c->len_q[k], c->units);
        fill_cumulative(c->cu_k + k * (c->units + 1), c->len_k[k], c->units);
    }
    pattnParams_t init = PATTN_PARAMS_INIT;
    pattnParams_t *p = &c->params;
    *p = init;
    p->head_dim = 8;
    p->group_query_ratio = 1;
    p->cols = 3 * 8;
    p->num_strategies = 1;
    p->num_pipelines = c->n;
    p->seq_lens = c->seq_lens;
    p->cp_groups = c->cp_groups;
    p->pipeline = c->me;
    p->split = c->split;
    p->is_causal = c->causal;
    p->packing = c->packing;
    if (c->packing) {
        p->rows = c->seq_lens[c->me];
        p->num_seqs = c->units;
        p->cu_seqlens_q = c->cu_q;
        p->cu_seqlens_k = c->cu_k;
        p->max_seqlen_q = p->max_seqlen_k = 1000;
    } else {
        p->rows = 2 * c->seq_lens[c->me];
    }
    pattnResult_t r = pattn_problem_build(p, &c->prob);
    cr_assert_eq(r, pattnSuccess, "valid case rejected: %s (seed %llu)", pattnGetLastError(),
                 (unsigned long long)api_seed);
}

static void random_case(uint64_t *rng, plan_case_t *c)
{
    memset(c, 0, sizeof *c);
    c->n = (int)api_rng_int(rng, 1, MAX_N);
    c->me = (int)api_rng_int(rng, 0, c->n - 1);
    c->packing = (int)api_rng_int(rng, 0, 1);
    c->causal = (int)api_rng_int(rng, 0, 1);
    c->split = api_rng_int(rng, 0, 1) ? PATTN_SPLIT_SYM : PATTN_SPLIT_CONTIGUOUS;
    c->units = c->packing ? (int)api_rng_int(rng, 1, MAX_UNITS) : 1;
    for (int k = 0; k < c->n; ++k) {
        int64_t total = 0;
        for (int u = 0; u < c->units; ++u) {
            c->len_q[k][u] =
                api_edge_biased_length(rng, c->packing ? 0 : 1, c->packing ? 6 : 11);
            c->len_k[k][u] = c->len_q[k][u];
            total += c->len_q[k][u];
        }
        if (c->packing && c->n == 1 && api_rng_int(rng, 0, 1))
            random_split(rng, total, c->units, c->len_k[k]);
    }
    plan_case_build(c);
}

static const char *describe(const plan_case_t *c)
{
    static char text[512];
    int at = snprintf(text, sizeof text, "n=%d %s %s %s units=%d lens(q;k per member):", c->n,
                      c->split == PATTN_SPLIT_SYM ? "sym" : "contiguous",
                      c->causal ? "causal" : "full", c->packing ? "packed" : "samples", c->units);
    for (int k = 0; k < c->n && at < (int)sizeof text - 40; ++k)
        for (int u = 0; u < c->units; ++u)
            at += snprintf(text + at, sizeof text - at, " %lld;%lld", (long long)c->len_q[k][u],
                           (long long)c->len_k[k][u]);
    snprintf(text + at, sizeof text - at, " (seed %llu)", (unsigned long long)api_seed);
    return text;
}

/* The member-major piece lengths of unit u, and where member k's piece starts in its rows. */
static void unit_lengths(const plan_case_t *c, int u, int is_key, int64_t lens[MAX_N])
{
    for (int k = 0; k < c->n; ++k)
        lens[k] = is_key ? c->len_k[k][u] : c->len_q[k][u];
}
static int64_t piece_first_row(const plan_case_t *c, int k, int u, int is_key)
{
    if (!c->packing)
        return 0;
    return (is_key ? c->cu_k : c->cu_q)[k * (c->units + 1) + u];
}
static int64_t sum_lengths(const int64_t *lens, int n)
{
    int64_t s = 0;
    for (int k = 0; k < n; ++k)
        s += lens[k];
    return s;
}

/* The global position of member k's local row `row` of unit u by the SPEC, or fails. */
static int64_t spec_position(const plan_case_t *c, int k, int u, int is_key, int64_t row)
{
    int64_t lens[MAX_N];
    unit_lengths(c, u, is_key, lens);
    int64_t x = row - piece_first_row(c, k, u, is_key);
    cr_assert(x >= 0 && x < lens[k], "row %lld is outside member %d's piece of unit %d (%s)",
              (long long)row, k, u, describe(c));
    return api_split_position(c->split, lens, c->n, k, x);
}

/* (a) for one unit and side: runs tile [0, N) exactly once, at the SPEC's positions. */
static void check_runs_tile(const plan_case_t *c, int u, int is_key)
{
    int64_t lens[MAX_N];
    unit_lengths(c, u, is_key, lens);
    int64_t total = sum_lengths(lens, c->n);
    int *owner = api_malloc(sizeof(int) * (size_t)(total + 1));
    for (int64_t g = 0; g < total; ++g)
        owner[g] = -1;
    for (int k = 0; k < c->n; ++k) {
        pattn_run_t runs[2];
        int count = pattn_member_runs(&c->prob, k, u, is_key, runs);
        int64_t covered = 0;
        for (int i = 0; i < count; ++i) {
            cr_assert(runs[i].len > 0, "member %d run %d is empty (%s)", k, i, describe(c));
            for (int64_t x = 0; x < runs[i].len; ++x) {
                int64_t row = runs[i].row + x, pos = runs[i].pos + x;
                int64_t want = spec_position(c, k, u, is_key, row);
                cr_assert_eq(pos, want, "%s member %d row %lld: plan pos %lld, SPEC %lld (%s)",
                             is_key ? "key" : "query", k, (long long)row, (long long)pos,
                             (long long)want, describe(c));
                cr_assert_eq(owner[pos], -1, "position %lld owned twice (members %d and %d) (%s)",
                             (long long)pos, owner[pos], k, describe(c));
                owner[pos] = k;
                cr_assert_eq(pattn_global_position(&c->prob, k, u, is_key, row), want,
                             "pattn_global_position(member %d, row %lld) (%s)", k,
                             (long long)row, describe(c));
            }
            covered += runs[i].len;
        }
        cr_assert_eq(covered, lens[k], "member %d: runs hold %lld rows of %lld (%s)", k,
                     (long long)covered, (long long)lens[k], describe(c));
    }
    for (int64_t g = 0; g < total; ++g)
        cr_assert_neq(owner[g], -1, "global position %lld owned by no member (%s)", (long long)g,
                      describe(c));
    free(owner);
}

/* Whether the key at kpos is visible from the query at qpos by the SPEC (bottom-right causal). */
static int spec_visible(const plan_case_t *c, int64_t qpos, int64_t kpos, int64_t nq, int64_t nk)
{
    return !c->causal || kpos <= qpos + (nk - nq);
}

/* Whether a listed block lets the query at qpos see the key at kpos, by the meaning plan.h gives
 * its fields (FULL: every pair; CAUSAL: kpos <= qpos + shift). */
static int block_sees(const pattn_block_t *bl, int64_t qpos, int64_t kpos)
{
    return bl->mask == PATTN_MASK_FULL || (bl->mask == PATTN_MASK_CAUSAL && kpos <= qpos + bl->shift);
}

/* (b) and (c): the blocks of every member and step cover each unit's mask exactly once. */
static void check_blocks_cover_mask(const plan_case_t *c)
{
    int64_t nq[MAX_UNITS], nk[MAX_UNITS];
    unsigned char *cover[MAX_UNITS];
    for (int u = 0; u < c->units; ++u) {
        int64_t lq[MAX_N], lk[MAX_N];
        unit_lengths(c, u, 0, lq);
        unit_lengths(c, u, 1, lk);
        nq[u] = sum_lengths(lq, c->n);
        nk[u] = sum_lengths(lk, c->n);
        cover[u] = api_malloc((size_t)(nq[u] * nk[u] + 1));
        memset(cover[u], 0, (size_t)(nq[u] * nk[u] + 1));
    }
    for (int k = 0; k < c->n; ++k) {
        int seen_kv[MAX_N] = {0};
        for (int t = 0; t < c->n; ++t) {
            int j = pattn_step_kv_member(&c->prob, k, t);
            cr_assert_eq(j, ((k - t) % c->n + c->n) % c->n, "kv member of %d at step %d", k, t);
            seen_kv[j]++;
            int count = pattn_step_blocks(&c->prob, k, t, NULL, 0);
            pattn_block_t *blocks = api_malloc(sizeof(pattn_block_t) * (size_t)(count + 1));
            cr_assert_eq(pattn_step_blocks(&c->prob, k, t, blocks, count), count,
                         "block count differs between counting and filling (%s)", describe(c));
            for (int b = 0; b < count; ++b) {
                const pattn_block_t *bl = &blocks[b];
                int u = c->packing ? bl->unit : 0;
                cr_assert(c->packing ? (bl->unit >= 0 && bl->unit < c->units) : bl->unit == -1,
                          "block unit %d (%s)", bl->unit, describe(c));
                cr_assert_eq(bl->shift, nk[u] - nq[u], "block shift %lld, SPEC Nk - Nq = %lld",
                             (long long)bl->shift, (long long)(nk[u] - nq[u]));
                cr_assert(bl->mask == PATTN_MASK_FULL || bl->mask == PATTN_MASK_CAUSAL,
                          "member %d step %d block %d: mask %d listed (%s)", k, t, b,
                          (int)bl->mask, describe(c));
                cr_assert(c->causal || bl->mask == PATTN_MASK_FULL,
                          "a CAUSAL block in a full-attention problem (%s)", describe(c));
                int64_t visible = 0, hidden = 0;
                for (int64_t x = 0; x < bl->q.len; ++x) {
                    int64_t qpos = spec_position(c, k, u, 0, bl->q.row + x);
                    cr_assert_eq(qpos, bl->q.pos + x, "block query run of member %d (%s)", k,
                                 describe(c));
                    for (int64_t y = 0; y < bl->k.len; ++y) {
                        int64_t kpos = spec_position(c, j, u, 1, bl->k.row + y);
                        cr_assert_eq(kpos, bl->k.pos + y, "block key run of member %d (%s)", j,
                                     describe(c));
                        int want = spec_visible(c, qpos, kpos, nq[u], nk[u]);
                        int got = block_sees(bl, qpos, kpos);
                        cr_assert_eq(got, want,
                                     "member %d step %d: (q %lld, k %lld) visible %d, SPEC %d "
                                     "(mask %d) (%s)",
                                     k, t, (long long)qpos, (long long)kpos, got, want,
                                     (int)bl->mask, describe(c));
                        visible += want;
                        hidden += !want;
                        if (got) {
                            unsigned char *cell = &cover[u][qpos * nk[u] + kpos];
                            cr_assert_eq(*cell, 0, "(q %lld, k %lld) of unit %d covered twice (%s)",
                                         (long long)qpos, (long long)kpos, u, describe(c));
                            *cell = 1;
                        }
                    }
                }
                cr_assert(bl->mask != PATTN_MASK_CAUSAL || (visible > 0 && hidden > 0),
                          "CAUSAL block with %lld visible, %lld hidden: should be FULL or EMPTY "
                          "(%s)",
                          (long long)visible, (long long)hidden, describe(c));
            }
            free(blocks);
        }
        for (int j = 0; j < c->n; ++j)
            cr_assert_eq(seen_kv[j], 1, "member %d saw the K/V of %d %d times", k, j, seen_kv[j]);
    }
    for (int u = 0; u < c->units; ++u) {
        for (int64_t q = 0; q < nq[u]; ++q)
            for (int64_t kp = 0; kp < nk[u]; ++kp)
                cr_assert_eq(cover[u][q * nk[u] + kp], spec_visible(c, q, kp, nq[u], nk[u]),
                             "unit %d (q %lld, k %lld): covered %d, SPEC visible %d (%s)", u,
                             (long long)q, (long long)kp, cover[u][q * nk[u] + kp],
                             spec_visible(c, q, kp, nq[u], nk[u]), describe(c));
        free(cover[u]);
    }
}

Test(plan, runs_tile_the_global_sequence_at_spec_positions)
{
    uint64_t rng = api_rng_fresh();
    for (int trial = 0; trial < 400; ++trial) {
        plan_case_t c;
        random_case(&rng, &c);
        for (int u = 0; u < c.units; ++u) {
            check_runs_tile(&c, u, 0);
            check_runs_tile(&c, u, 1);
        }
    }
}

Test(plan, blocks_cover_the_global_mask_exactly_once)
{
    uint64_t rng = api_rng_fresh();
    for (int trial = 0; trial < 400; ++trial) {
        plan_case_t c;
        random_case(&rng, &c);
        check_blocks_cover_mask(&c);
    }
}

/* (d) for member k's key-major items of step t in tiles of `tile` keys, sub-tiles of `sub`. */
static void check_turns(const plan_case_t *c, int k, int t, int tile, int sub)
{
    pattn_items_t items;
    cr_assert_eq(pattn_items_build(&c->prob, k, t, PATTN_KEY_MAJOR, tile, 1, &items), pattnSuccess,
                 "%s", pattnGetLastError());
    pattn_item_turn_t *turn = api_malloc(sizeof *turn * (size_t)(items.count + 1));
    int32_t counters = -1;
    cr_assert_eq(pattn_items_turns(&items, sub, turn, &counters), pattnSuccess,
                 "member %d step %d tile %d sub %d: %s (%s)", k, t, tile, sub, pattnGetLastError(),
                 describe(c));
    cr_assert(counters >= 0 && counters <= pattn_items_turn_bound(&c->prob, k, sub),
              "%d counters, bound %lld (%s)", counters,
              (long long)pattn_items_turn_bound(&c->prob, k, sub), describe(c));
    /* owner[counter]: the (run position, sub-tile) it counts, as pos * 4096 + s, per unit */
    int64_t *owner = api_malloc(sizeof *owner * (size_t)(counters + 1));
    for (int32_t x = 0; x < counters; ++x)
        owner[x] = -1;
    for (int64_t i = 0; i < items.count; ++i) {
        const pattn_item_t *it = &items.item[i];
        for (int j = 0; j < it->num_runs; ++j) {
            const pattn_item_run_t *run = &it->runs[j];
            int64_t lo, hi;
            pattn_item_span(it, run, PATTN_KEY_MAJOR, 0, &lo, &hi);
            for (int64_t s = lo / sub; hi > lo && s <= (hi - 1) / sub; ++s) {
                int64_t before = 0; /* earlier items of the unit meeting the same sub-tile */
                for (int64_t e = 0; e < i; ++e) {
                    const pattn_item_t *et = &items.item[e];
                    for (int ej = 0; et->unit == it->unit && ej < et->num_runs; ++ej) {
                        int64_t elo, ehi;
                        if (et->runs[ej].row != run->row || et->runs[ej].pos != run->pos)
                            continue;
                        pattn_item_span(et, &et->runs[ej], PATTN_KEY_MAJOR, 0, &elo, &ehi);
                        before += ehi > elo && elo / sub <= s && s <= (ehi - 1) / sub;
                    }
                }
                cr_assert_eq(turn[i].rank, before,
                             "item %lld sub-tile %lld of the run at %d: rank %d, %lld earlier "
                             "items meet it (%s)",
                             (long long)i, (long long)s, run->pos, turn[i].rank, (long long)before,
                             describe(c));
                const int64_t x = turn[i].counter[j] + s;
                const int64_t id = ((int64_t)(it->unit + 1) * 65536 + run->pos) * 4096 + s;
                cr_assert(x >= 0 && x < counters, "counter %lld of %d (%s)", (long long)x,
                          counters, describe(c));
                cr_assert(owner[x] == -1 || owner[x] == id,
                          "counter %lld counts two sub-tiles (%s)", (long long)x, describe(c));
                owner[x] = id;
            }
        }
    }
    free(owner);
    free(turn);
    pattn_items_free(&items);
}

Test(plan, dq_turns_count_the_items_before_each_sub_tile)
{
    uint64_t rng = api_rng_fresh();
    for (int trial = 0; trial < 400; ++trial) {
        plan_case_t c;
        random_case(&rng, &c);
        const int tile = (int)api_rng_int(&rng, 1, 4), sub = (int)api_rng_int(&rng, 1, 3);
        for (int k = 0; k < c.n; ++k)
            for (int t = 0; t < c.n; ++t)
                check_turns(&c, k, t, tile, sub);
    }
}

/* A later item that meets a sub-tile an earlier one of its unit does not: no fixed order. */
Test(plan, dq_turns_refuse_items_that_are_not_nested)
{
    pattn_item_t item[2];
    memset(item, 0, sizeof item);
    for (int i = 0; i < 2; ++i) {
        item[i].unit = -1;
        item[i].tile_pos = item[i].pos = item[i].row = 4 * i;
        item[i].len = 4;
        item[i].num_runs = 1;
        item[i].runs[0] = (pattn_item_run_t){0, 0, 8, 0, 1}; /* causal, shift 0 */
    }
    pattn_items_t later_first = {item, NULL, 2};
    pattn_item_turn_t turn[2];
    int32_t counters;
    cr_assert_eq(pattn_items_turns(&later_first, 4, turn, &counters), pattnSuccess, "%s",
                 pattnGetLastError());
    cr_assert_eq(turn[1].rank, 1);
    pattn_item_t swapped[2] = {item[1], item[0]};
    pattn_items_t reversed = {swapped, NULL, 2};
    cr_assert_eq(pattn_items_turns(&reversed, 4, turn, &counters), pattnUnsupported);
    cr_assert(strstr(pattnGetLastError(), "previous item") != NULL, "%s", pattnGetLastError());
}

/* The SPEC's own example of sym: a ring of 2 with L = 3, 4 (N = 7) holds heads [0], [1, 2] and
 * tails [5, 6], [3, 4] -- checked by hand, so api_split_position itself is pinned down. */
Test(plan, sym_formula_hand_checked)
{
    static const int64_t lens[2] = {3, 4};
    static const int64_t want[2][4] = {{0, 5, 6, -1}, {1, 2, 3, 4}};
    for (int k = 0; k < 2; ++k)
        for (int64_t x = 0; x < lens[k]; ++x)
            cr_assert_eq(api_split_position(PATTN_SPLIT_SYM, lens, 2, k, x), want[k][x],
                         "member %d local %lld", k, (long long)x);
}

/* ---------------------------------------------------------------- exhaustive small sweep */
#define SWEEP_MAX_LEN 4
#define SWEEP_UNITS 2 /* packed sequences in the sweep */

/* Checks every property on c in both split patterns and both masks. */
static int sweep_one(plan_case_t *c)
{
    int checked = 0;
    for (int split = 0; split < 2; ++split)
        for (int causal = 0; causal < 2; ++causal) {
            c->split = split ? PATTN_SPLIT_SYM : PATTN_SPLIT_CONTIGUOUS;
            c->causal = causal;
            plan_case_build(c);
            for (int u = 0; u < c->units; ++u) {
                check_runs_tile(c, u, 0);
                check_runs_tile(c, u, 1);
            }
            check_blocks_cover_mask(c);
            ++checked;
        }
    return checked;
}

/* Steps digits[0..count-1] (each lo..SWEEP_MAX_LEN) like an odometer; 0 once all wrapped. */
static int next_lengths(int64_t *digits, int count, int64_t lo)
{
    for (int i = 0; i < count; ++i) {
        if (digits[i] < SWEEP_MAX_LEN) {
            ++digits[i];
            return 1;
        }
        digits[i] = lo;
    }
    return 0;
}

/* Every ring of 1..3 samples-members with local lengths 1..4. */
Test(plan, sweep_samples_every_length_vector)
{
    int checked = 0;
    for (int n = 1; n <= 3; ++n) {
        int64_t lens[3] = {1, 1, 1};
        do {
            plan_case_t c;
            memset(&c, 0, sizeof c);
            c.n = n;
            c.units = 1;
            for (int k = 0; k < n; ++k)
                c.len_q[k][0] = c.len_k[k][0] = lens[k];
            checked += sweep_one(&c);
        } while (next_lengths(lens, n, 1));
    }
    cr_assert_eq(checked, 4 * (4 + 16 + 64), "the sweep visited %d cases", checked);
}

/* Every packed ring of 1..3 members, two sequences, pieces of 0..4 tokens (cu_q == cu_k). */
Test(plan, sweep_packed_rings_every_piece_vector)
{
    int checked = 0;
    for (int n = 1; n <= 3; ++n) {
        int64_t pieces[3 * SWEEP_UNITS] = {0};
        do {
            plan_case_t c;
            memset(&c, 0, sizeof c);
            c.n = n;
            c.packing = 1;
            c.units = SWEEP_UNITS;
            for (int k = 0; k < n; ++k)
                for (int u = 0; u < SWEEP_UNITS; ++u)
                    c.len_q[k][u] = c.len_k[k][u] = pieces[k * SWEEP_UNITS + u];
            checked += sweep_one(&c);
        } while (next_lengths(pieces, n * SWEEP_UNITS, 0));
    }
    cr_assert_eq(checked, 4 * (25 + 625 + 15625), "the sweep visited %d cases", checked);
}

/* One packed member, three sequences, every query and key piece length 0..4 with the same total
 * (cu_q != cu_k): the bottom-right causal shift Nk - Nq of a sequence takes every value from -4
 * to 4. */
Test(plan, sweep_packed_single_member_different_key_lengths)
{
    enum { UNITS = MAX_UNITS };
    int checked = 0;
    int64_t lens[2 * UNITS] = {0};
    do {
        plan_case_t c;
        memset(&c, 0, sizeof c);
        c.n = 1;
        c.packing = 1;
        c.units = UNITS;
        int64_t total_q = 0, total_k = 0;
        for (int u = 0; u < UNITS; ++u) {
            total_q += c.len_q[0][u] = lens[u];
            total_k += c.len_k[0][u] = lens[UNITS + u];
        }
        if (total_q == total_k) /* both tables end at the member's T tokens */
            checked += sweep_one(&c);
    } while (next_lengths(lens, 2 * UNITS, 0));
    /* triples in 0..4 with a given sum s: 1,3,6,10,15,18,19,18,15,10,6,3,1; pairs: their squares */
    cr_assert_eq(checked, 4 * 1751, "the sweep visited %d cases", checked);
}
