/*
 * transport_nccl.c: the NCCL transport (comm.h). NCCL is loaded at run time (dlopen of
 * PATTN_NCCL_LIBRARY, else libnccl.so.2), so the library builds and runs without it and a ring
 * over NCCL answers pattnUnsupported where it cannot be loaded.
 *
 * A group is ncclGroupStart, one ncclSend/ncclRecv per transfer (bytes as ncclUint8), ncclGroupEnd
 * on the stream. Communicators made here are non-blocking (config.blocking = 0), so no call can
 * hang: an ncclInProgress answer is polled through ncclCommGetAsyncError, and a wait polls the
 * stream and the communicator's async error until the timeout, then aborts (ncclCommAbort), as
 * nccl-tests' testStreamSynchronize does. A caller's own communicator is polled the same way.
 */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <nccl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "comm.h"
#include "status.h"

/* The NCCL functions the transport uses. */
typedef struct nccl_api {
    ncclResult_t (*GetUniqueId)(ncclUniqueId *);
    ncclResult_t (*CommInitRankConfig)(ncclComm_t *, int, ncclUniqueId, int, ncclConfig_t *);
    ncclResult_t (*CommDestroy)(ncclComm_t);
    ncclResult_t (*CommAbort)(ncclComm_t);
    ncclResult_t (*CommGetAsyncError)(ncclComm_t, ncclResult_t *);
    ncclResult_t (*CommCount)(const ncclComm_t, int *);
    ncclResult_t (*CommUserRank)(const ncclComm_t, int *);
    ncclResult_t (*CommCuDevice)(const ncclComm_t, int *);
    ncclResult_t (*GroupStart)(void);
    ncclResult_t (*GroupEnd)(void);
    ncclResult_t (*Send)(const void *, size_t, ncclDataType_t, int, ncclComm_t, cudaStream_t);
    ncclResult_t (*Recv)(void *, size_t, ncclDataType_t, int, ncclComm_t, cudaStream_t);
    const char *(*GetErrorString)(ncclResult_t);
} nccl_api_t;

static nccl_api_t nccl;
static int nccl_loaded; /* 1 loaded, -1 failed */
static char nccl_why[512];
static pthread_once_t nccl_once = PTHREAD_ONCE_INIT;

static void load_nccl(void)
{
    const char *path = getenv("PATTN_NCCL_LIBRARY");
    void *lib = dlopen(path && *path ? path : "libnccl.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(nccl_why, sizeof nccl_why, "%s", dlerror());
        nccl_loaded = -1;
        return;
    }
    struct {
        const char *name;
        void **fn;
    } syms[] = {
        {"ncclGetUniqueId", (void **)&nccl.GetUniqueId},
        {"ncclCommInitRankConfig", (void **)&nccl.CommInitRankConfig},
        {"ncclCommDestroy", (void **)&nccl.CommDestroy},
        {"ncclCommAbort", (void **)&nccl.CommAbort},
        {"ncclCommGetAsyncError", (void **)&nccl.CommGetAsyncError},
        {"ncclCommCount", (void **)&nccl.CommCount},
        {"ncclCommUserRank", (void **)&nccl.CommUserRank},
        {"ncclCommCuDevice", (void **)&nccl.CommCuDevice},
        {"ncclGroupStart", (void **)&nccl.GroupStart},
        {"ncclGroupEnd", (void **)&nccl.GroupEnd},
        {"ncclSend", (void **)&nccl.Send},
        {"ncclRecv", (void **)&nccl.Recv},
        {"ncclGetErrorString", (void **)&nccl.GetErrorString},
    };
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; ++i)
        if (!(*syms[i].fn = dlsym(lib, syms[i].name))) {
            snprintf(nccl_why, sizeof nccl_why, "%s has no %s", path ? path : "libnccl.so.2",
                     syms[i].name);
            nccl_loaded = -1;
            return;
        }
    nccl_loaded = 1;
}

static pattnResult_t need_nccl(const char *what)
{
    pthread_once(&nccl_once, load_nccl);
    if (nccl_loaded == 1)
        return pattnSuccess;
    return pattn_error(pattnUnsupported,
                       "%s: NCCL could not be loaded (%s); set PATTN_NCCL_LIBRARY to its "
                       "libnccl.so.2",
                       what, nccl_why);
}

typedef struct nccl_impl {
    ncclComm_t comm;
    int owned; /* made by pattnCommInitRank (destroyed with the communicator) */
} nccl_impl_t;

static ncclComm_t comm_of(pattnComm_t c) { return ((nccl_impl_t *)c->impl)->comm; }

/* Waits while NCCL answers ncclInProgress (non-blocking communicators), at most timeout. */
static ncclResult_t settle(ncclComm_t comm, ncclResult_t r, double deadline)
{
    while (r == ncclInProgress) {
        if (pattn_now() > deadline)
            return ncclInProgress;
        ncclResult_t async;
        if (nccl.CommGetAsyncError(comm, &async) != ncclSuccess)
            return ncclSystemError;
        r = async;
    }
    return r;
}

static pattnResult_t nccl_failure(pattnComm_t c, ncclResult_t r, const char *what)
{
    if (r == ncclInProgress)
        return pattn_comm_fail(c, pattn_error(pattnTimeout,
                                              "ring (nccl): rank %d: %s did not complete within "
                                              "the timeout",
                                              c->rank, what));
    return pattn_comm_fail(c, pattn_error(pattnNcclError, "ring (nccl): rank %d: %s: %s", c->rank,
                                          what, nccl.GetErrorString(r)));
}

static pattnResult_t nccl_group(pattnComm_t c, const pattn_xfer_t *x, int count,
                                cudaStream_t stream, double timeout)
{
    const double deadline = pattn_now() + timeout;
    ncclComm_t comm = comm_of(c);
    ncclResult_t r = settle(comm, nccl.GroupStart(), deadline);
    for (int i = 0; r == ncclSuccess && i < count; ++i)
        r = settle(comm,
                   x[i].send ? nccl.Send(x[i].buf, x[i].bytes, ncclUint8, x[i].peer, comm, stream)
                             : nccl.Recv(x[i].buf, x[i].bytes, ncclUint8, x[i].peer, comm, stream),
                   deadline);
    ncclResult_t end = settle(comm, nccl.GroupEnd(), deadline);
    if (r == ncclSuccess)
        r = end;
    return r == ncclSuccess ? pattnSuccess : nccl_failure(c, r, "ncclSend/ncclRecv group");
}

static pattnResult_t nccl_wait(pattnComm_t c, cudaStream_t stream, double timeout)
{
    const double deadline = pattn_now() + timeout;
    ncclComm_t comm = comm_of(c);
    for (;;) {
        cudaError_t e = cudaStreamQuery(stream);
        if (e == cudaSuccess)
            return pattnSuccess;
        if (e != cudaErrorNotReady)
            return pattn_comm_fail(c, pattn_error(pattnCudaError, "ring (nccl): rank %d: %s",
                                                  c->rank, cudaGetErrorString(e)));
        ncclResult_t async;
        if (nccl.CommGetAsyncError(comm, &async) != ncclSuccess ||
            (async != ncclSuccess && async != ncclInProgress))
            return nccl_failure(c, async, "a transfer");
        if (pattn_now() > deadline)
            return nccl_failure(c, ncclInProgress, "the ring's transfers");
        struct timespec ts = {0, 20000};
        nanosleep(&ts, NULL);
    }
}

static void nccl_abort(pattnComm_t c)
{
    nccl_impl_t *impl = c->impl;
    if (impl->comm)
        nccl.CommAbort(impl->comm);
    impl->comm = NULL;
}

static void nccl_destroy(pattnComm_t c)
{
    nccl_impl_t *impl = c->impl;
    if (impl->owned && impl->comm)
        nccl.CommDestroy(impl->comm);
    free(impl);
}

const pattn_transport_ops_t pattn_nccl_transport = {"nccl", nccl_group, nccl_wait, nccl_abort,
                                                    nccl_destroy};

pattnResult_t pattnGetUniqueId(pattnUniqueId_t *id)
{
    if (!id)
        return pattn_error(pattnInvalidArgument, "id = NULL: expected a pattnUniqueId_t to fill");
    pattnResult_t r = need_nccl("pattnGetUniqueId");
    if (r != pattnSuccess)
        return r;
    ncclUniqueId nid;
    ncclResult_t n = nccl.GetUniqueId(&nid);
    if (n != ncclSuccess)
        return pattn_error(pattnNcclError, "ncclGetUniqueId: %s", nccl.GetErrorString(n));
    _Static_assert(sizeof nid == PATTN_UNIQUE_ID_BYTES, "an ncclUniqueId is 128 bytes");
    memcpy(id->internal, &nid, sizeof nid);
    return pattnSuccess;
}

/* Used by comm.c: c (rank, nranks, device set) over a new non-blocking NCCL communicator, or
 * over the caller's (existing, not owned). */
pattnResult_t pattn_nccl_attach(pattnComm_t c, const pattnUniqueId_t *id, void *existing)
{
    pattnResult_t r = need_nccl(existing ? "pattnCommFromNccl" : "pattnCommInitRank");
    if (r != pattnSuccess)
        return r;
    nccl_impl_t *impl = calloc(1, sizeof *impl);
    if (!impl)
        return pattn_error(pattnSystemError, "NCCL communicator: out of host memory");
    c->ops = &pattn_nccl_transport;
    c->impl = impl;
    if (existing) {
        impl->comm = existing;
        if (nccl.CommCount(impl->comm, &c->nranks) != ncclSuccess ||
            nccl.CommUserRank(impl->comm, &c->rank) != ncclSuccess ||
            nccl.CommCuDevice(impl->comm, &c->device) != ncclSuccess)
            return pattn_error(pattnNcclError, "pattnCommFromNccl: the communicator does not "
                                               "answer ncclCommCount/UserRank/CuDevice");
        return pattnSuccess;
    }
    ncclUniqueId nid;
    memcpy(&nid, id->internal, sizeof nid);
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;
    impl->owned = 1;
    const double deadline = pattn_now() + 600.0;
    ncclResult_t n = nccl.CommInitRankConfig(&impl->comm, c->nranks, nid, c->rank, &config);
    if (n == ncclInProgress)
        n = settle(impl->comm, n, deadline);
    if (n != ncclSuccess)
        return pattn_error(pattnNcclError, "ncclCommInitRankConfig (rank %d of %d): %s", c->rank,
                           c->nranks, nccl.GetErrorString(n));
    return pattnSuccess;
}
