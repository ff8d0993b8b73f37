/*
 * ring_backward.c: the backward of one ring member (SPEC sections 3 and 5). K/V blocks travel as
 * in the forward; with each block travels the fp32 accumulator of its dK and dV. At step t the
 * member computes its contribution to the block it holds (into a fresh buffer, while the
 * accumulator is still on its way from the previous member), adds it to the accumulator once it
 * has arrived and passes it on; after the last step the accumulator returns to the block's owner
 * (n hops), whose dK and dV have then summed every member's part in ring order j, j + 1, ...:
 * the order of the reference, the same on every run. dQ accumulates locally over the steps (in
 * a fixed order too unless deterministic = 0 lets a fused dQ add in any order).
 */
#include "ring_calls.h"

#include <math.h>

#include "dtype.h"
#include "status.h"

static pattnResult_t cuda_ok(cudaError_t e, const char *what)
{
    return e == cudaSuccess ? pattnSuccess
                            : pattn_error(pattnCudaError, "ring: %s: %s", what, cudaGetErrorString(e));
}

pattnResult_t pattn_ring_backward(const pattn_problem_t *p, pattn_rng_t rng,
                                  const pattn_bwd_io_t *io)
{
    const int k = p->me, n = p->n;
    const void *qkv = io->qkv[0], *dout = io->dout[0];
    const void *loads[] = {qkv, dout}, *stores[] = {io->dqkv[0]};
    const int aligned = pattn_cuda_aligned(loads, 2, stores, 1);
    const pattn_cuda_kernel_t *kdkdv, *kdq;
    pattnResult_t r = pattn_cuda_pick_backward(p, aligned, &kdkdv, &kdq);
    if (r != pattnSuccess)
        return r;
    cudaStream_t stream = io->stream;
    int64_t max_rows = 0;
    for (int m = 0; m < n; ++m)
        max_rows = p->rows[m] > max_rows ? p->rows[m] : max_rows;
    const int64_t kv_cols = 2 * p->Hkv * p->D;
    const size_t dsum_b = pattn_cuda_workspace_part(sizeof(float) * (size_t)pattn_lse_elems(p, k));
    const size_t dq_b =
        pattn_cuda_workspace_part(sizeof(float) * (size_t)(p->rows[k] * p->out_cols));
    const size_t blk_b = pattn_cuda_workspace_part(sizeof(float) * (size_t)(max_rows * kv_cols));
    const size_t count_b = pattn_cuda_workspace_part(pattn_cuda_dq_counter_bytes(p, k, kdkdv));
    pattn_ring_t rg;
    char *ws = NULL;
    r = pattn_ring_begin(&rg, p, rng, 1, io->comm, io->timeout, io->state, stream,
                         dsum_b + dq_b + 3 * blk_b + count_b, (void **)&ws);
    if (r != pattnSuccess)
        return pattn_ring_end(&rg, r);
    float *dsum = (float *)ws, *dq = (float *)(ws + dsum_b), *part = (float *)(ws + dsum_b + dq_b);
    float *acc[2] = {(float *)(ws + dsum_b + dq_b + blk_b), (float *)(ws + dsum_b + dq_b + 2 * blk_b)};
    int32_t *counters = count_b ? (int32_t *)(ws + dsum_b + dq_b + 3 * blk_b) : NULL;
    cudaEvent_t acc_ready[2] = {NULL, NULL}, acc_done[2] = {NULL, NULL};
    const pattn_cuda_plan_t *pdkdv = NULL, *pdq = NULL;
    for (int b = 0; r == pattnSuccess && b < 2; ++b) {
        r = cuda_ok(cudaEventCreateWithFlags(&acc_ready[b], cudaEventDisableTiming), "cudaEventCreate");
        if (r == pattnSuccess)
            r = cuda_ok(cudaEventCreateWithFlags(&acc_done[b], cudaEventDisableTiming),
                        "cudaEventCreate");
    }
    if (r == pattnSuccess)
        r = pattn_cuda_call_plan(&rg.call, p, k, n, kdkdv, 0, &pdkdv);
    if (r == pattnSuccess && kdq)
        r = pattn_cuda_call_plan(&rg.call, p, k, n, kdq, 0, &pdq);
    if (r == pattnSuccess)
        r = pattn_cuda_dsum(p, k, io->out[0], dout, dsum, stream);
    if (r == pattnSuccess)
        r = cuda_ok(cudaMemsetAsync(dq, 0, dq_b, stream), "zeroing dQ");
    if (r == pattnSuccess)
        r = cuda_ok(cudaMemsetAsync(acc[0], 0, blk_b, stream), "zeroing dK/dV");
    if (r == pattnSuccess)
        r = pattn_ring_pack_own(&rg, qkv);
    const pattn_cuda_bwd_queries_t queries = {qkv, dout,       io->lse[0], dsum,
                                              dq,  p->out_cols, counters};
    for (int t = 0; r == pattnSuccess && t < n; ++t) {
        const int b = t % 2, nb = (t + 1) % 2;
        const int j = pattn_step_kv_member(p, k, t), jn = pattn_step_kv_member(p, k, t + 1);
        const int64_t blk = p->rows[j] * kv_cols;
        if (t + 1 < n)
            r = pattn_ring_kv_hop(&rg, t);
        if (r == pattnSuccess)
            r = pattn_ring_step_begin(&rg, t);
        if (r == pattnSuccess)
            r = cuda_ok(cudaMemsetAsync(part, 0, sizeof(float) * (size_t)blk, stream),
                        "zeroing a step's dK/dV");
        const pattn_cuda_bwd_keys_t keys = {pattn_ring_block(&rg, t), part,
                                            part + p->Hkv * p->D, kv_cols};
        if (r == pattnSuccess)
            r = pattn_cuda_bwd_step(p, k, t, rng, pdkdv, pdq, &queries, &keys,
                                    PATTN_CUDA_ACCUMULATE, stream);
        if (r == pattnSuccess)
            r = pattn_ring_step_end(&rg, t);
        /* The block's accumulator, from the previous member (step t > 0), plus this part. */
        if (r == pattnSuccess && t > 0)
            r = cuda_ok(cudaStreamWaitEvent(stream, acc_ready[b], 0), "waiting for dK/dV");
        if (r == pattnSuccess)
            r = pattn_cuda_add(acc[b], part, blk, stream);
        if (r == pattnSuccess)
            r = cuda_ok(cudaEventRecord(acc_done[b], stream), "cudaEventRecord");
        if (r == pattnSuccess)
            r = cuda_ok(cudaStreamWaitEvent(io->comm->stream, acc_done[b], 0), "cudaStreamWaitEvent");
        const pattn_xfer_t x[2] = {
            {rg.next, 1, acc[b], sizeof(float) * (size_t)blk},
            {rg.prev, 0, acc[nb], sizeof(float) * (size_t)(p->rows[jn] * kv_cols)}};
        if (r == pattnSuccess)
            r = pattn_ring_group(&rg, t, x, 2);
        if (r == pattnSuccess)
            r = cuda_ok(cudaEventRecord(acc_ready[nb], io->comm->stream), "cudaEventRecord");
    }
    /* After n hops buffer n % 2 holds this member's own block's dK and dV. */
    if (r == pattnSuccess)
        r = cuda_ok(cudaStreamWaitEvent(stream, acc_ready[n % 2], 0), "waiting for the own dK/dV");
    const size_t es = pattn_dtype_size(p->dtype);
    if (r == pattnSuccess)
        r = pattn_cuda_cast_rows(p->dtype, acc[n % 2], kv_cols,
                                 (char *)io->dqkv[0] + (size_t)(p->Hq * p->D) * es, p->qkv_cols,
                                 p->rows[k], kv_cols, stream);
    if (r == pattnSuccess)
        r = pattn_cuda_cast_rows(p->dtype, dq, p->out_cols, io->dqkv[0], p->qkv_cols, p->rows[k],
                                 p->out_cols, stream);
    r = pattn_ring_end(&rg, r);
    for (int b = 0; b < 2; ++b) {
        if (acc_ready[b])
            cudaEventDestroy(acc_ready[b]);
        if (acc_done[b])
            cudaEventDestroy(acc_done[b]);
    }
    return r;
}
