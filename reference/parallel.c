/*
 * parallel.c: runs a list of independent tasks over the OpenMP threads, each thread with its
 * own tile-sized workspace (ref_work_t), with sgemm made safe for it (ref_sgemm_begin/end) and
 * nested parallelism off inside. Without OpenMP the pragmas are ignored and the tasks run
 * in order on one thread. Tasks write disjoint outputs, so the result does not depend on the
 * number of threads or the schedule.
 */
#include <stdlib.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "reference.h"
#include "status.h"

/* One allocation holding every buffer of a workspace. */
static int work_alloc(ref_work_t *w, int64_t D)
{
    size_t br_d = (size_t)REF_BR * D, bc_d = (size_t)REF_BC * D, brc = (size_t)REF_BR * REF_BC;
    size_t floats = br_d /* q */ + 2 * bc_d /* k, v */ + 2 * brc /* s, dp */ +
                    3 * br_d /* o, acc, part */ + 2 * bc_d /* dk, dv */ + 5 * (size_t)REF_BR;
    float *f = malloc(floats * sizeof(float) + brc);
    if (!f)
        return 0;
    w->q = f, f += br_d;
    w->k = f, f += bc_d;
    w->v = f, f += bc_d;
    w->s = f, f += brc;
    w->dp = f, f += brc;
    w->o = f, f += br_d;
    w->acc = f, f += br_d;
    w->part = f, f += br_d;
    w->dk = f, f += bc_d;
    w->dv = f, f += bc_d;
    w->m = f, f += REF_BR;
    w->l = f, f += REF_BR;
    w->lse = f, f += REF_BR;
    w->part_lse = f, f += REF_BR;
    w->dsum = f, f += REF_BR;
    w->keep = (uint8_t *)f;
    return 1;
}

pattnResult_t ref_parallel_tasks(const ref_ctx_t *c, int64_t count, ref_task_fn fn, void *user)
{
    int failed = 0;
    ref_sgemm_begin();
#pragma omp parallel
    {
#ifdef _OPENMP
        omp_set_num_threads(1); /* a BLAS built on OpenMP runs on this thread, never nested */
#endif
        ref_work_t w;
        int ok = work_alloc(&w, c->p->D), any_failed;
        if (!ok) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp barrier
#pragma omp atomic read
        any_failed = failed;
        /* Every thread sees the same any_failed, so all or none reach the loop. */
        if (!any_failed) {
#pragma omp for schedule(dynamic, 1)
            for (int64_t task = 0; task < count; ++task)
                fn(c, &w, task, user);
        }
        if (ok)
            free(w.q);
    }
    ref_sgemm_end();
    if (failed)
        return pattn_error(pattnSystemError,
                           "reference: out of host memory (tile workspace for head_dim %lld)",
                           (long long)c->p->D);
    return pattnSuccess;
}
