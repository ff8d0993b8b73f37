/*
 * comm.h: the communicator behind pattnComm_t (include/parallel_attn.h) and the small interface
 * its two transports implement: one group of point-to-point transfers on a stream, and a wait
 * for a stream's work that cannot hang (polling for peer failure, with a timeout).
 */
#ifndef PATTN_DIST_COMM_H
#define PATTN_DIST_COMM_H

#include <cuda_runtime_api.h>
#include <stddef.h>

#include "parallel_attn.h"

/* One transfer of a group: send buf (device memory) to world rank peer, or receive into it. */
typedef struct pattn_xfer {
    int peer;
    int send; /* 1: send buf to peer; 0: receive buf from peer */
    void *buf;
    size_t bytes;
} pattn_xfer_t;

typedef struct pattn_transport_ops {
    const char *name;
    /* Posts the transfers on stream (ordered after the work queued there): every member posts
     * its side of each transfer in the same order. May block the host until the peers post
     * theirs (local), at most timeout seconds. */
    pattnResult_t (*group)(pattnComm_t c, const pattn_xfer_t *x, int count, cudaStream_t stream,
                           double timeout);
    /* Waits until the work queued on stream is done, at most timeout seconds, failing early
     * when the transport sees a peer fail. */
    pattnResult_t (*wait)(pattnComm_t c, cudaStream_t stream, double timeout);
    /* Ends the communicator after a failure (NCCL: ncclCommAbort), so peers do not wait on it. */
    void (*abort)(pattnComm_t c);
    void (*destroy)(pattnComm_t c);
} pattn_transport_ops_t;

struct pattnComm {
    const pattn_transport_ops_t *ops;
    int rank, nranks; /* world rank = pipeline index */
    int device;       /* the CUDA device this rank runs on */
    int broken;       /* after a timeout or peer failure: ring calls fail at once */
    cudaStream_t stream; /* the transfers' stream (created on device) */
    void *impl;          /* the transport's state */
};

extern const pattn_transport_ops_t pattn_local_transport;
extern const pattn_transport_ops_t pattn_nccl_transport;

/* Marks c broken and aborts its transport; returns r. */
pattnResult_t pattn_comm_fail(pattnComm_t c, pattnResult_t r);

/* Seconds on a monotonic clock. */
double pattn_now(void);

#endif /* PATTN_DIST_COMM_H */
