/*
 * backend.c: the ring backend's entry in the registry (core/backend.h): a call of one member of
 * a context-parallel ring (or a single member with a communicator) on the CUDA backend's
 * kernels, its blocks moved by the handle's communicator (comm.h).
 */
#include "backend.h"
#include "call.h"
#include "ring_calls.h"
#include "status.h"

static pattnResult_t ring_supports(const pattn_problem_t *p, int backward, int emulated_ring)
{
    (void)p;
    (void)backward;
    if (emulated_ring)
        return pattn_error(pattnUnsupported,
                           "backend ring: the emulated ring runs on the reference backend only");
    return pattnSuccess;
}

static pattnResult_t need_comm(pattnComm_t comm)
{
    return comm ? pattnSuccess
                : pattn_error(pattnInvalidArgument,
                              "handle: no communicator for a ring call (pattnSetComm)");
}

static pattnResult_t ring_forward(const pattn_problem_t *p, pattn_rng_t rng,
                                  const pattn_fwd_io_t *io)
{
    pattnResult_t r = need_comm(io->comm);
    return r == pattnSuccess ? pattn_ring_forward(p, rng, io) : r;
}

static pattnResult_t ring_backward(const pattn_problem_t *p, pattn_rng_t rng,
                                   const pattn_bwd_io_t *io)
{
    pattnResult_t r = need_comm(io->comm);
    return r == pattnSuccess ? pattn_ring_backward(p, rng, io) : r;
}

static int ring_owns_pointer(const void *ptr) { return pattn_cuda_backend.owns_pointer(ptr); }

const pattn_backend_t pattn_ring_backend = {"ring",           ring_supports,    ring_forward,
                                            ring_backward,    ring_owns_pointer, pattn_cuda_state_free};
