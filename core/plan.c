/*
 * plan.c: global positions of every member's tokens under each split pattern, and the block
 * list of every ring step (plan.h). Block classes come from core/mask.h, the one predicate every
 * executor uses.
 */
#include "plan.h"

/* Member k's local piece of unit u: first local row and length. */
static void member_piece(const pattn_problem_t *p, int k, int u, int is_key, int64_t *row0,
                         int64_t *len)
{
    if (!p->packing) {
        *row0 = 0;
        *len = p->L[k];
        return;
    }
    const int32_t *cu = is_key ? p->cu_k[k] : p->cu_q[k];
    *row0 = cu[u];
    *len = cu[u + 1] - cu[u];
}

void pattn_unit_lengths(const pattn_problem_t *p, int u, int64_t *nq, int64_t *nk)
{
    int64_t q = 0, k = 0;
    for (int m = 0; m < p->n; ++m) {
        int64_t row0, len;
        member_piece(p, m, u, 0, &row0, &len);
        q += len;
        member_piece(p, m, u, 1, &row0, &len);
        k += len;
    }
    *nq = q;
    *nk = k;
}

int pattn_member_runs(const pattn_problem_t *p, int k, int u, int is_key,
                      pattn_run_t runs[PATTN_MAX_RUNS])
{
    int64_t row0, len;
    member_piece(p, k, u, is_key, &row0, &len);
    if (len == 0)
        return 0;
    if (p->n == 1 || p->split == PATTN_SPLIT_CONTIGUOUS) {
        int64_t before = 0;
        for (int m = 0; m < k; ++m) {
            int64_t r0, l;
            member_piece(p, m, u, is_key, &r0, &l);
            before += l;
        }
        runs[0] = (pattn_run_t){row0, before, len};
        return 1;
    }
    /* sym: heads left to right in ring order, tails right to left. */
    int64_t heads_before = 0, tails_before = 0, total = 0;
    for (int m = 0; m < p->n; ++m) {
        int64_t r0, l;
        member_piece(p, m, u, is_key, &r0, &l);
        if (m < k) {
            heads_before += l / 2;
            tails_before += l - l / 2;
        }
        total += l;
    }
    int64_t h = len / 2, t = len - h;
    int count = 0;
    if (h > 0)
        runs[count++] = (pattn_run_t){row0, heads_before, h};
    runs[count++] = (pattn_run_t){row0 + h, total - tails_before - t, t};
    return count;
}

pattn_mask_t pattn_block_mask(const pattn_problem_t *p, const pattn_run_t *q, const pattn_run_t *k,
                              int64_t shift)
{
    return pattn_pairs_mask(p->is_causal, q->pos, q->len, k->pos, k->len, shift);
}

int pattn_step_blocks(const pattn_problem_t *p, int k, int t, pattn_block_t *blocks,
                      int max_blocks)
{
    int j = pattn_step_kv_member(p, k, t), count = 0;
    int units = p->packing ? p->P : 1;
    for (int u = 0; u < units; ++u) {
        pattn_run_t qr[PATTN_MAX_RUNS], kr[PATTN_MAX_RUNS];
        int nq = pattn_member_runs(p, k, u, 0, qr);
        int nk = pattn_member_runs(p, j, u, 1, kr);
        int64_t lq, lk;
        pattn_unit_lengths(p, u, &lq, &lk);
        for (int a = 0; a < nq; ++a)
            for (int b = 0; b < nk; ++b) {
                pattn_mask_t m = pattn_block_mask(p, &qr[a], &kr[b], lk - lq);
                if (m == PATTN_MASK_EMPTY)
                    continue;
                if (count < max_blocks)
                    blocks[count] =
                        (pattn_block_t){p->packing ? u : -1, qr[a], kr[b], lk - lq, m};
                ++count;
            }
    }
    return count;
}

int64_t pattn_global_position(const pattn_problem_t *p, int k, int u, int is_key, int64_t row)
{
    pattn_run_t runs[PATTN_MAX_RUNS];
    int n = pattn_member_runs(p, k, u, is_key, runs);
    for (int i = 0; i < n; ++i)
        if (row >= runs[i].row && row < runs[i].row + runs[i].len)
            return runs[i].pos + (row - runs[i].row);
    return -1;
}
