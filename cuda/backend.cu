/*
 * backend.cu: the CUDA backend's entry in the registry (core/backend.h): what it supports, the
 * forward of one rank (fwd_rank.h), and which pointers are device memory.
 */
#include <limits.h>

#include "backend.h"
#include "check.h"
#include "fwd_rank.h"

namespace {

pattnResult_t cuda_supports(const pattn_problem_t *p, int backward, int emulated_ring)
{
    if (backward)
        return pattn_error(pattnUnsupported,
                           "backend cuda: the backward has no GPU kernel yet (run it on the "
                           "reference backend with host arrays)");
    if (emulated_ring)
        return pattn_error(pattnUnsupported,
                           "backend cuda: the emulated ring runs on the reference backend only");
    if (p->n > 1)
        return pattn_error(pattnUnsupported,
                           "backend cuda: pipeline %d is in a ring of %d members; context "
                           "parallelism on the GPU needs the NCCL backend",
                           p->pipelines[p->me], p->n);
    if (p->rows[p->me] > INT_MAX || p->max_seqlen_k > INT_MAX || p->sm_nk > INT_MAX)
        return pattn_error(pattnUnsupported,
                           "backend cuda: %lld rows: positions must fit in 32 bits",
                           (long long)p->rows[p->me]);
    if (p->B > INT_MAX || p->Hq > INT_MAX)
        return pattn_error(pattnUnsupported, "backend cuda: batch %lld x %lld heads is too large",
                           (long long)p->B, (long long)p->Hq);
    return pattnSuccess;
}

pattnResult_t cuda_forward(const pattn_problem_t *p, pattn_rng_t rng, const pattn_fwd_io_t *io)
{
    pattnResult_t r = cuda_supports(p, 0, 0);
    if (r != pattnSuccess)
        return r;
    return pattn_cuda_forward_rank(p, rng, io->qkv[0], io->out[0], io->lse[0],
                                   io->softmax ? io->softmax[0] : NULL,
                                   static_cast<cudaStream_t>(io->stream), 0);
}

int cuda_owns_pointer(const void *ptr)
{
    if (!ptr)
        return 0;
    cudaPointerAttributes attr;
    if (cudaPointerGetAttributes(&attr, ptr) != cudaSuccess) {
        cudaGetLastError(); /* clear the error: a host pointer is not a failure */
        return 0;
    }
    return attr.type == cudaMemoryTypeDevice || attr.type == cudaMemoryTypeManaged;
}

} // namespace

const pattn_backend_t pattn_cuda_backend = {"cuda", cuda_supports, cuda_forward, NULL,
                                                       cuda_owns_pointer};
