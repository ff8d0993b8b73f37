/*
 * comm.c: the public communicator calls (include/parallel_attn.h) over the two transports
 * (transport_local.c, transport_nccl.c): each rank's communicator knows its world rank, its
 * device and a stream of its own for the transfers.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <time.h>

#include "comm.h"
#include "status.h"

pattnResult_t pattn_local_world(pattnComm_t *comms, int nranks);
pattnResult_t pattn_nccl_attach(pattnComm_t c, const pattnUniqueId_t *id, void *existing);

double pattn_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

pattnResult_t pattn_comm_fail(pattnComm_t c, pattnResult_t r)
{
    if (!c->broken) {
        c->broken = 1;
        c->ops->abort(c);
    }
    return r;
}

/* c's transfer stream, on c's device. */
static pattnResult_t make_stream(pattnComm_t c)
{
    int current;
    cudaError_t e = cudaGetDevice(&current);
    if (e == cudaSuccess)
        e = cudaSetDevice(c->device);
    if (e == cudaSuccess)
        e = cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking);
    if (e == cudaSuccess)
        e = cudaSetDevice(current);
    if (e != cudaSuccess)
        return pattn_error(pattnCudaError, "communicator of rank %d on device %d: %s", c->rank,
                           c->device, cudaGetErrorString(e));
    return pattnSuccess;
}

static pattnComm_t comm_alloc(int rank, int nranks, int device)
{
    pattnComm_t c = calloc(1, sizeof *c);
    if (c) {
        c->rank = rank;
        c->nranks = nranks;
        c->device = device;
    }
    return c;
}

static void comm_free(pattnComm_t c)
{
    if (c->ops)
        c->ops->destroy(c);
    if (c->stream)
        cudaStreamDestroy(c->stream);
    free(c);
}

pattnResult_t pattnCommInitLocal(pattnComm_t *comms, int nranks, const int *devices)
{
    if (!comms)
        return pattn_error(pattnInvalidArgument, "comms = NULL: expected an array of nranks "
                                                 "communicators to fill");
    if (nranks < 1 || nranks > 4096)
        return pattn_error(pattnInvalidArgument, "nranks = %d: expected 1 .. 4096", nranks);
    int current, count;
    if (cudaGetDevice(&current) != cudaSuccess || cudaGetDeviceCount(&count) != cudaSuccess) {
        cudaGetLastError();
        return pattn_error(pattnUnsupported, "pattnCommInitLocal: no CUDA device");
    }
    for (int r = 0; devices && r < nranks; ++r)
        if (devices[r] < 0 || devices[r] >= count)
            return pattn_error(pattnInvalidArgument,
                               "devices[%d] = %d: expected a CUDA device in [0, %d)", r,
                               devices[r], count);
    pattnResult_t res = pattnSuccess;
    int made = 0;
    for (; made < nranks; ++made) {
        comms[made] = comm_alloc(made, nranks, devices ? devices[made] : current);
        if (!comms[made]) {
            res = pattn_error(pattnSystemError, "pattnCommInitLocal: out of host memory");
            break;
        }
        if ((res = make_stream(comms[made])) != pattnSuccess) {
            ++made;
            break;
        }
    }
    if (res == pattnSuccess)
        res = pattn_local_world(comms, nranks);
    if (res != pattnSuccess)
        for (int r = 0; r < made; ++r)
            comm_free(comms[r]);
    return res;
}

/* The end of an NCCL communicator's making: its stream once NCCL attached, then *comm, or the
 * communicator freed on failure. */
static pattnResult_t nccl_finish(pattnComm_t c, pattnResult_t r, pattnComm_t *comm)
{
    if (r == pattnSuccess)
        r = make_stream(c);
    if (r != pattnSuccess)
        comm_free(c);
    else
        *comm = c;
    return r;
}

pattnResult_t pattnCommInitRank(pattnComm_t *comm, int nranks, const pattnUniqueId_t *id, int rank)
{
    if (!comm)
        return pattn_error(pattnInvalidArgument, "comm = NULL: expected a communicator to fill");
    if (!id)
        return pattn_error(pattnInvalidArgument, "id = NULL: expected the unique id of rank 0's "
                                                 "pattnGetUniqueId");
    if (nranks < 1 || rank < 0 || rank >= nranks)
        return pattn_error(pattnInvalidArgument, "rank = %d, nranks = %d: expected 0 <= rank < "
                                                 "nranks",
                           rank, nranks);
    int device;
    if (cudaGetDevice(&device) != cudaSuccess) {
        cudaGetLastError();
        return pattn_error(pattnUnsupported, "pattnCommInitRank: no CUDA device");
    }
    pattnComm_t c = comm_alloc(rank, nranks, device);
    if (!c)
        return pattn_error(pattnSystemError, "pattnCommInitRank: out of host memory");
    return nccl_finish(c, pattn_nccl_attach(c, id, NULL), comm);
}

pattnResult_t pattnCommFromNccl(pattnComm_t *comm, void *nccl_comm)
{
    if (!comm || !nccl_comm)
        return pattn_error(pattnInvalidArgument, "%s = NULL: expected %s", comm ? "nccl_comm" : "comm",
                           comm ? "the caller's ncclComm_t" : "a communicator to fill");
    pattnComm_t c = comm_alloc(0, 1, 0); /* rank, size and device come from NCCL */
    if (!c)
        return pattn_error(pattnSystemError, "pattnCommFromNccl: out of host memory");
    return nccl_finish(c, pattn_nccl_attach(c, NULL, nccl_comm), comm);
}

pattnResult_t pattnCommDestroy(pattnComm_t comm)
{
    if (comm)
        comm_free(comm);
    return pattnSuccess;
}

const char *pattnCommTransport(pattnComm_t comm)
{
    return comm && comm->ops ? comm->ops->name : "none";
}
