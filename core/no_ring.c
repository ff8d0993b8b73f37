/*
 * no_ring.c: the communicator entry points of a build without the CUDA backend (dist/ is built
 * with it): every one answers pattnUnsupported, so the API is the same in every build.
 */
#include "parallel_attn.h"
#include "status.h"

static pattnResult_t no_ring(const char *what)
{
    return pattn_error(pattnUnsupported,
                       "%s: this build has no GPU ring (configure with CUDA to build dist/)", what);
}

pattnResult_t pattnCommInitLocal(pattnComm_t *comms, int nranks, const int *devices)
{
    (void)comms, (void)nranks, (void)devices;
    return no_ring("pattnCommInitLocal");
}

pattnResult_t pattnGetUniqueId(pattnUniqueId_t *id)
{
    (void)id;
    return no_ring("pattnGetUniqueId");
}

pattnResult_t pattnCommInitRank(pattnComm_t *comm, int nranks, const pattnUniqueId_t *id, int rank)
{
    (void)comm, (void)nranks, (void)id, (void)rank;
    return no_ring("pattnCommInitRank");
}

pattnResult_t pattnCommFromNccl(pattnComm_t *comm, void *nccl_comm)
{
    (void)comm, (void)nccl_comm;
    return no_ring("pattnCommFromNccl");
}

pattnResult_t pattnCommDestroy(pattnComm_t comm)
{
    (void)comm;
    return pattnSuccess;
}

const char *pattnCommTransport(pattnComm_t comm)
{
    (void)comm;
    return "none";
}
