/*
 * transport_none.c: the NCCL entry points of a build made without NCCL's header: every one
 * answers pattnUnsupported (the local transport still runs rings in one process).
 */
#include "comm.h"
#include "status.h"

const pattn_transport_ops_t pattn_nccl_transport = {"nccl", NULL, NULL, NULL, NULL};

static pattnResult_t no_nccl(const char *what)
{
    return pattn_error(pattnUnsupported,
                       "%s: this build has no NCCL (configure with NCCL's header found, "
                       "NCCL_HOME)",
                       what);
}

pattnResult_t pattnGetUniqueId(pattnUniqueId_t *id)
{
    (void)id;
    return no_nccl("pattnGetUniqueId");
}

pattnResult_t pattn_nccl_attach(pattnComm_t c, const pattnUniqueId_t *id, void *existing)
{
    (void)c;
    (void)id;
    return no_nccl(existing ? "pattnCommFromNccl" : "pattnCommInitRank");
}
