/*
 * forward.c: the ring driver of the reference forward, for all n ring members at once.
 *
 * A task is one query tile of one member and one query head. It runs the ring steps
 * t = 0..n-1 in order: the step executor (attend.c) gives the step's partial against the K/V of
 * member pattn_step_kv_member(k, t), which is merged into the tile's running result with
 * pattn_lse_merge; after the last step the result is rounded to the dtype and the lse stored.
 * With an observer, every step's partial is also recorded and handed over, member by member and
 * step by step, once all tasks are done. return_softmax then runs its own pass.
 */
#include <math.h>
#include <stdlib.h>

#include "lse_merge.h"
#include "reference.h"
#include "status.h"

typedef struct forward {
    const pattn_fwd_io_t *io;
    ref_tile_t *tiles;
    float **rec_out, **rec_lse; /* observer: the partial of (member k, step t) at [k n + t] */
} forward_t;

/* Copies the step partial in w into the recorded arrays of (member, step t). */
static void record_step(const forward_t *f, const pattn_problem_t *p, const ref_tile_t *q,
                        int64_t h, int t, const ref_work_t *w)
{
    int k = q->member;
    ref_store_rows(PATTN_FP32, f->rec_out[k * p->n + t], p->out_cols, ref_tile_qkv_row(p, q),
                   q->len, h * p->D, p->D, w->part);
    float *lse = f->rec_lse[k * p->n + t];
    for (int64_t i = 0; i < q->len; ++i)
        lse[pattn_lse_index(p, k, q->unit, h, q->row + i)] = w->part_lse[i];
}

static void forward_task(const ref_ctx_t *c, ref_work_t *w, int64_t task, void *user)
{
    const forward_t *f = user;
    const pattn_problem_t *p = c->p;
    const ref_tile_t *q = &f->tiles[task / p->Hq];
    int64_t h = task % p->Hq, D = p->D, row = ref_tile_qkv_row(p, q);
    int k = q->member;
    ref_load_rows(p->dtype, c->qkv[k], p->qkv_cols, row, q->len, h * D, D, w->q);
    for (int64_t i = 0; i < q->len * D; ++i)
        w->acc[i] = 0.0f;
    for (int64_t i = 0; i < q->len; ++i)
        w->lse[i] = -INFINITY;
    for (int t = 0; t < p->n; ++t) {
        ref_attend_step(c, w, q, h, t);
        if (f->rec_out)
            record_step(f, p, q, h, t, w);
        for (int64_t i = 0; i < q->len; ++i)
            pattn_lse_merge(w->acc + i * D, &w->lse[i], w->part + i * D, w->part_lse[i], D);
    }
    ref_store_rows(p->dtype, f->io->out[k], p->out_cols, row, q->len, h * D, D, w->acc);
    for (int64_t i = 0; i < q->len; ++i)
        f->io->lse[k][pattn_lse_index(p, k, q->unit, h, q->row + i)] = w->lse[i];
}

static void free_records(forward_t *f, int count)
{
    for (int i = 0; f->rec_out && i < count; ++i)
        free(f->rec_out[i]);
    for (int i = 0; f->rec_lse && i < count; ++i)
        free(f->rec_lse[i]);
    free(f->rec_out);
    free(f->rec_lse);
}

/* Allocates the n x n recorded partials the observer receives. */
static pattnResult_t alloc_records(forward_t *f, const pattn_problem_t *p)
{
    int count = p->n * p->n;
    f->rec_out = calloc((size_t)count, sizeof *f->rec_out);
    f->rec_lse = calloc((size_t)count, sizeof *f->rec_lse);
    int ok = f->rec_out && f->rec_lse;
    for (int i = 0; ok && i < count; ++i) {
        int k = i / p->n;
        f->rec_out[i] = malloc((size_t)(p->rows[k] * p->out_cols + 1) * sizeof(float));
        f->rec_lse[i] = malloc((size_t)(pattn_lse_elems(p, k) + 1) * sizeof(float));
        ok = f->rec_out[i] && f->rec_lse[i];
    }
    if (ok)
        return pattnSuccess;
    free_records(f, count);
    f->rec_out = f->rec_lse = NULL;
    return pattn_error(pattnSystemError,
                       "reference: out of host memory (the observer's %d step partials)", count);
}

pattnResult_t ref_forward(const pattn_problem_t *p, pattn_rng_t rng, const pattn_fwd_io_t *io)
{
    ref_ctx_t c = {p, rng, {0}, {0}, io->qkv};
    forward_t f = {io, NULL, NULL, NULL};
    int64_t count = 0;
    pattnResult_t r = ref_items_build(&c, PATTN_QUERY_MAJOR);
    if (r == pattnSuccess)
        r = ref_make_tiles(&c, PATTN_QUERY_MAJOR, &f.tiles, &count);
    int observe = io->observer && io->observer->on_step;
    if (r == pattnSuccess && observe)
        r = alloc_records(&f, p);
    if (r == pattnSuccess)
        r = ref_parallel_tasks(&c, count * p->Hq, forward_task, &f);
    if (r == pattnSuccess && observe)
        for (int k = 0; k < p->n; ++k)
            for (int t = 0; t < p->n; ++t)
                io->observer->on_step(io->observer->user, k, t, pattn_step_kv_member(p, k, t),
                                      f.rec_out[k * p->n + t], f.rec_lse[k * p->n + t]);
    if (r == pattnSuccess && io->softmax)
        r = ref_softmax_matrix(&c, io);
    free_records(&f, p->n * p->n);
    free(f.tiles);
    ref_items_free(&c);
    return r;
}
