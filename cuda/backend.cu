/*
 * backend.cu: the CUDA backend's entry in the registry (core/backend.h): what it supports, one
 * rank's forward and backward (rank.h), and which pointers are device memory.
 */
#include <limits.h>

#include "backend.h"
#include "check.h"
#include "call.h"
#include "rank.h"

namespace {

pattnResult_t cuda_supports(const pattn_problem_t *p, int backward, int emulated_ring)
{
    (void)backward;
    if (emulated_ring)
        return pattn_error(pattnUnsupported,
                           "backend cuda: the emulated ring runs on the reference backend only");
    if (p->n > 1)
        return pattn_error(pattnUnsupported,
                           "backend cuda: pipeline %d is in a ring of %d members; context "
                           "parallelism on the GPU needs a communicator (pattnSetComm)",
                           p->pipelines[p->me], p->n);
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
                                   io->softmax ? io->softmax[0] : NULL, io->state,
                                   static_cast<cudaStream_t>(io->stream));
}

pattnResult_t cuda_backward(const pattn_problem_t *p, pattn_rng_t rng, const pattn_bwd_io_t *io)
{
    pattnResult_t r = cuda_supports(p, 1, 0);
    if (r != pattnSuccess)
        return r;
    return pattn_cuda_backward_rank(p, rng, io->qkv[0], io->out[0], io->lse[0], io->dout[0],
                                    io->dqkv[0], io->state, static_cast<cudaStream_t>(io->stream));
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

const pattn_backend_t pattn_cuda_backend = {"cuda",        cuda_supports,     cuda_forward,
                                            cuda_backward, cuda_owns_pointer, pattn_cuda_state_free};
