/*
 * work_items.c: cuts the plan's blocks of one member and ring step into GPU work items
 * (work_items.h): every query run of the member is split into tiles aligned to global
 * positions, and each tile carries the key runs of the blocks that meet its query run, minus
 * those its causal mask hides entirely.
 */
#include "work_items.h"

#include <stdlib.h>

#include "status.h"

typedef struct weighted_item {
    int64_t work; /* visible (query, key) pairs, an estimate of the CTA's time */
    int64_t index;
    pattn_cuda_item_t item;
} weighted_item_t;

static int heavier_first(const void *a, const void *b)
{
    const weighted_item_t *x = a, *y = b;
    if (x->work != y->work)
        return x->work > y->work ? -1 : 1;
    return x->index < y->index ? -1 : (x->index > y->index);
}

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* Adds the key run of block blk to item it, as seen from query positions [lo, hi); returns the
 * visible (query, key) pairs, 0 (and adds nothing) when the causal mask hides every key. */
static int64_t add_run(pattn_cuda_item_t *it, const pattn_block_t *blk, int64_t lo, int64_t hi)
{
    int causal = blk->mask == PATTN_MASK_CAUSAL;
    int64_t kfirst = blk->k.pos, klast = blk->k.pos + blk->k.len - 1;
    if (causal && kfirst > hi - 1 + blk->shift)
        return 0;
    if (causal && klast <= lo + blk->shift)
        causal = 0;
    pattn_cuda_run_t *run = &it->runs[it->num_runs++];
    *run = (pattn_cuda_run_t){(int32_t)blk->k.row, (int32_t)blk->k.pos, (int32_t)blk->k.len,
                              (int32_t)blk->shift, causal};
    if (!causal)
        return (hi - lo) * blk->k.len;
    int64_t pairs = 0; /* rows see keys up to min(klast, qpos + shift): sum over the tile's rows */
    for (int64_t q = lo; q < hi; ++q)
        pairs += max64(0, min64(klast, q + blk->shift) - kfirst + 1);
    return pairs;
}

/* The blocks of query run qr of unit u (at most one per key run, so at most two). */
static pattnResult_t blocks_of_run(const pattn_problem_t *p, const pattn_block_t *blocks, int nb,
                                   int u, const pattn_run_t *qr, const pattn_block_t *mine[2],
                                   int *count)
{
    *count = 0;
    for (int i = 0; i < nb; ++i) {
        if (blocks[i].unit != (p->packing ? u : -1) || blocks[i].q.row != qr->row)
            continue;
        if (*count == 2)
            return pattn_error(pattnInternalError,
                               "pattn_cuda_build_items: query run at row %lld of unit %d meets "
                               "more than two key runs",
                               (long long)qr->row, u);
        mine[(*count)++] = &blocks[i];
    }
    return pattnSuccess;
}

/* Upper bound on the items of member k: tiles of every query run. */
static int64_t count_tiles(const pattn_problem_t *p, int k, int block_rows)
{
    int64_t tiles = 0;
    for (int u = 0; u < (p->packing ? p->P : 1); ++u) {
        pattn_run_t qr[2];
        int nq = pattn_member_runs(p, k, u, 0, qr);
        for (int a = 0; a < nq; ++a)
            tiles += (qr[a].pos + qr[a].len - 1) / block_rows - qr[a].pos / block_rows + 1;
    }
    return tiles;
}

static pattnResult_t fill_items(const pattn_problem_t *p, int k, int block_rows,
                                pattn_cuda_mode_t mode, const pattn_block_t *blocks, int nb,
                                weighted_item_t *out, int64_t *count)
{
    *count = 0;
    for (int u = 0; u < (p->packing ? p->P : 1); ++u) {
        pattn_run_t qr[2];
        int nq = pattn_member_runs(p, k, u, 0, qr);
        for (int a = 0; a < nq; ++a) {
            const pattn_block_t *mine[2];
            int nm;
            pattnResult_t r = blocks_of_run(p, blocks, nb, u, &qr[a], mine, &nm);
            if (r != pattnSuccess)
                return r;
            int64_t end = qr[a].pos + qr[a].len;
            for (int64_t t0 = qr[a].pos / block_rows * block_rows; t0 < end; t0 += block_rows) {
                int64_t lo = max64(t0, qr[a].pos), hi = min64(t0 + block_rows, end);
                pattn_cuda_item_t it = {0};
                it.unit = p->packing ? u : -1;
                it.sm_row0 = p->packing ? p->cu_q[k][u] : 0;
                it.tile_pos = (int32_t)t0;
                it.q_row = (int32_t)(qr[a].row + (lo - qr[a].pos));
                it.q_pos = (int32_t)lo;
                it.q_len = (int32_t)(hi - lo);
                int64_t work = 0;
                for (int m = 0; m < nm; ++m)
                    work += add_run(&it, mine[m], lo, hi);
                if (it.num_runs == 0 && mode == PATTN_CUDA_ACCUMULATE)
                    continue;
                out[*count] = (weighted_item_t){work, *count, it};
                ++*count;
            }
        }
    }
    return pattnSuccess;
}

pattnResult_t pattn_cuda_build_items(const pattn_problem_t *p, int k, int t, int block_rows,
                                     pattn_cuda_mode_t mode, pattn_cuda_item_t **items,
                                     int64_t *count)
{
    *items = NULL;
    *count = 0;
    if (block_rows <= 0 || block_rows % 16 != 0)
        return pattn_error(pattnInternalError, "pattn_cuda_build_items: block_rows = %d",
                           block_rows);
    int nb = pattn_step_blocks(p, k, t, NULL, 0);
    int64_t cap = count_tiles(p, k, block_rows);
    pattn_block_t *blocks = malloc((size_t)(nb > 0 ? nb : 1) * sizeof *blocks);
    weighted_item_t *w = malloc((size_t)(cap > 0 ? cap : 1) * sizeof *w);
    if (!blocks || !w) {
        free(blocks);
        free(w);
        return pattn_error(pattnSystemError, "pattn_cuda_build_items: out of host memory for "
                                             "%d blocks and %lld items",
                           nb, (long long)cap);
    }
    pattn_step_blocks(p, k, t, blocks, nb);
    int64_t n = 0;
    pattnResult_t r = fill_items(p, k, block_rows, mode, blocks, nb, w, &n);
    free(blocks);
    if (r == pattnSuccess && n > 0) {
        qsort(w, (size_t)n, sizeof *w, heavier_first);
        *items = malloc((size_t)n * sizeof **items);
        if (!*items)
            r = pattn_error(pattnSystemError, "pattn_cuda_build_items: out of host memory for "
                                              "%lld items",
                            (long long)n);
        for (int64_t i = 0; *items && i < n; ++i)
            (*items)[i] = w[i].item;
        if (*items)
            *count = n;
    }
    free(w);
    return r;
}
