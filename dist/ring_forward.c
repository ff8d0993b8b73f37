/*
 * ring_forward.c: the forward of one ring member (SPEC section 3). At step t the member holds the
 * K/V block of member j = k - t (its own at t = 0) and merges its queries' partial against it into
 * an fp32 accumulator and the running lse (the block executor's ACCUMULATE mode), while the next
 * block travels; after the last step the accumulator becomes out in the dtype. return_softmax
 * walks the blocks a second time, with the final lse.
 */
#include "ring_calls.h"

#include <math.h>

#include "dtype.h"
#include "status.h"

/* Walks the ring's K/V blocks (n - 1 hops), calling step(t) while step t + 1's block travels. */
static pattnResult_t walk(pattn_ring_t *rg, const void *qkv,
                          pattnResult_t (*step)(void *ctx, int t), void *ctx)
{
    pattnResult_t r = pattn_ring_pack_own(rg, qkv);
    for (int t = 0; r == pattnSuccess && t < rg->p->n; ++t) {
        if (t + 1 < rg->p->n)
            r = pattn_ring_kv_hop(rg, t);
        if (r == pattnSuccess)
            r = pattn_ring_step_begin(rg, t);
        if (r == pattnSuccess)
            r = step(ctx, t);
        if (r == pattnSuccess)
            r = pattn_ring_step_end(rg, t);
    }
    return r;
}

typedef struct forward {
    pattn_ring_t *rg;
    pattn_rng_t rng;
    const pattn_cuda_plan_t *plan;
    const void *qkv;
    float *acc, *lse, *softmax;
} forward_t;

static pattnResult_t attend(void *ctx, int t)
{
    const forward_t *f = ctx;
    const pattn_cuda_kv_t kv = pattn_ring_block(f->rg, t);
    return pattn_cuda_fwd_step(f->rg->p, f->rg->p->me, t, f->rng, f->plan, f->qkv, &kv, f->acc,
                               f->lse, PATTN_CUDA_ACCUMULATE, f->rg->stream);
}

static pattnResult_t softmax(void *ctx, int t)
{
    const forward_t *f = ctx;
    const pattn_problem_t *p = f->rg->p;
    const pattn_cuda_kv_t kv = pattn_ring_block(f->rg, t);
    const pattn_cuda_fwd_args_t a =
        pattn_cuda_fwd_args(p, p->me, t, f->rng, f->plan, f->qkv, &kv, f->acc, f->lse);
    return pattn_cuda_softmax(&a, f->softmax, pattn_member_lq(p, p->me), p->sm_nk, f->rg->stream);
}

pattnResult_t pattn_ring_forward(const pattn_problem_t *p, pattn_rng_t rng,
                                 const pattn_fwd_io_t *io)
{
    const int k = p->me;
    const void *qkv = io->qkv[0];
    const void *loads[] = {qkv}, *stores[] = {io->out[0]};
    const pattn_cuda_kernel_t *kernel;
    pattnResult_t r = pattn_cuda_pick_forward(p, pattn_cuda_aligned(loads, 1, stores, 1), &kernel);
    if (r != pattnSuccess)
        return r;
    cudaStream_t stream = io->stream;
    const size_t acc_bytes = sizeof(float) * (size_t)(p->rows[k] * p->out_cols);
    pattn_ring_t rg;
    void *acc = NULL;
    r = pattn_ring_begin(&rg, p, rng, 0, io->comm, io->timeout, io->state, stream, acc_bytes, &acc);
    if (r != pattnSuccess)
        return pattn_ring_end(&rg, r);
    forward_t f = {&rg, rng, NULL, qkv, acc, io->lse[0], io->softmax ? io->softmax[0] : NULL};
    if (r == pattnSuccess)
        r = pattn_cuda_call_plan(&rg.call, p, k, p->n, kernel, 0, &f.plan);
    if (r == pattnSuccess && acc_bytes)
        r = cudaMemsetAsync(acc, 0, acc_bytes, stream) == cudaSuccess
                ? pattnSuccess
                : pattn_error(pattnCudaError, "ring: zeroing the accumulator failed");
    if (r == pattnSuccess)
        r = pattn_cuda_fill(f.lse, pattn_lse_elems(p, k), -INFINITY, stream);
    if (r == pattnSuccess)
        r = walk(&rg, qkv, attend, &f);
    if (r == pattnSuccess)
        r = pattn_cuda_cast_rows(p->dtype, acc, p->out_cols, io->out[0], p->out_cols, p->rows[k],
                                 p->out_cols, stream);
    if (r == pattnSuccess && f.softmax) {
        const size_t bytes = sizeof(float) * (size_t)pattn_softmax_elems(p, k);
        if (bytes && cudaMemsetAsync(f.softmax, 0, bytes, stream) != cudaSuccess)
            r = pattn_error(pattnCudaError, "ring: zeroing the softmax failed");
        if (r == pattnSuccess)
            r = walk(&rg, qkv, softmax, &f);
    }
    return pattn_ring_end(&rg, r);
}
