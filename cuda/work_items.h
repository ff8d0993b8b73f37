/*
 * work_items.h: the host side of a forward launch: the plan's blocks of one member and ring
 * step (core/plan.h) cut into GPU work items (fwd_args.h), one per query tile.
 */
#ifndef PATTN_CUDA_WORK_ITEMS_H
#define PATTN_CUDA_WORK_ITEMS_H

#include "fwd_args.h"
#include "plan.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Builds the items of member k at ring step t for query tiles of block_rows rows (a multiple
 * of 16; tiles start at global positions that are multiples of block_rows). In FINAL mode every
 * query row of member k lies in exactly one item (an item without key runs writes out 0 and lse
 * -inf); in ACCUMULATE mode only items with a key run are listed. Items come heaviest first.
 * *items is malloc'ed (free() it, NULL when *count is 0). */
pattnResult_t pattn_cuda_build_items(const pattn_problem_t *p, int k, int t, int block_rows,
                                     pattn_cuda_mode_t mode, pattn_cuda_item_t **items,
                                     int64_t *count);

#ifdef __cplusplus
}
#endif

#endif /* PATTN_CUDA_WORK_ITEMS_H */
