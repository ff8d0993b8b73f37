/*
 * transport_local.c: the in-process transport (comm.h): all ranks of the world live in this
 * process, one thread each, on one GPU or several, and blocks move with cudaMemcpyPeerAsync.
 *
 * Every ordered pair (from, to) has one mailbox slot. A send records a "ready" event on the
 * sender's stream and posts (buffer, bytes, event); the receiver waits for the post, makes its
 * stream wait for "ready", enqueues the copy and records a "done" event; the sender waits for
 * "done" to be posted and makes its stream wait for it before the group returns, so the send
 * buffer is not reused before the copy has read it. At most one message per pair is in flight.
 * Host waits end at the timeout, or at once when another rank has failed (the world is then
 * broken for every rank).
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "comm.h"
#include "status.h"

typedef enum { SLOT_EMPTY, SLOT_POSTED, SLOT_DONE } slot_state_t;

typedef struct slot {
    slot_state_t state;
    const void *src;
    int src_device;
    size_t bytes;
    cudaEvent_t ready; /* created by the sender, on its device */
    cudaEvent_t done;  /* created by the receiver, on its device */
} slot_t;

typedef struct world {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int nranks, refs;
    int failed_rank; /* -1, or the first rank that failed */
    slot_t *slots;   /* [from * nranks + to] */
} world_t;

static slot_t *slot_of(world_t *w, int from, int to) { return &w->slots[from * w->nranks + to]; }

/* Waits (lock held) until pred(slot) holds, the world fails, or the deadline passes. */
static pattnResult_t wait_for(world_t *w, pattnComm_t c, slot_t *s, slot_state_t want,
                              double deadline, const char *what, int peer)
{
    while (s->state != want) {
        if (w->failed_rank >= 0)
            return pattn_error(pattnTimeout,
                               "ring (local transport): rank %d failed, so rank %d stops waiting "
                               "for %s rank %d",
                               w->failed_rank, c->rank, what, peer);
        const double left = deadline - pattn_now();
        if (left <= 0) {
            if (w->failed_rank < 0)
                w->failed_rank = c->rank;
            pthread_cond_broadcast(&w->changed);
            return pattn_error(pattnTimeout,
                               "ring (local transport): rank %d waited more than its timeout for "
                               "%s rank %d",
                               c->rank, what, peer);
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        const double until = (double)ts.tv_sec + 1e-9 * ts.tv_nsec + (left < 0.05 ? left : 0.05);
        ts.tv_sec = (time_t)until;
        ts.tv_nsec = (long)((until - (double)ts.tv_sec) * 1e9);
        pthread_cond_timedwait(&w->changed, &w->lock, &ts);
    }
    return pattnSuccess;
}

#define CUDA_OR(call, what)                                                                        \
    do {                                                                                           \
        cudaError_t e_ = (call);                                                                   \
        if (e_ != cudaSuccess) {                                                                   \
            r = pattn_error(pattnCudaError, "ring (local transport): %s: %s", what,                \
                            cudaGetErrorString(e_));                                               \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

static pattnResult_t local_group(pattnComm_t c, const pattn_xfer_t *x, int count,
                                 cudaStream_t stream, double timeout)
{
    world_t *w = c->impl;
    const double deadline = pattn_now() + timeout;
    pattnResult_t r = pattnSuccess;
    pthread_mutex_lock(&w->lock);
    for (int i = 0; i < count; ++i) { /* post every send first: nobody waits on a peer that waits */
        if (!x[i].send)
            continue;
        slot_t *s = slot_of(w, c->rank, x[i].peer);
        if ((r = wait_for(w, c, s, SLOT_EMPTY, deadline, "its previous message to", x[i].peer)))
            goto out;
        if (!s->ready)
            CUDA_OR(cudaEventCreateWithFlags(&s->ready, cudaEventDisableTiming), "cudaEventCreate");
        CUDA_OR(cudaEventRecord(s->ready, stream), "cudaEventRecord(ready)");
        *s = (slot_t){SLOT_POSTED, x[i].buf, c->device, x[i].bytes, s->ready, s->done};
        pthread_cond_broadcast(&w->changed);
    }
    for (int i = 0; i < count; ++i) {
        if (x[i].send)
            continue;
        slot_t *s = slot_of(w, x[i].peer, c->rank);
        if ((r = wait_for(w, c, s, SLOT_POSTED, deadline, "the block of", x[i].peer)))
            goto out;
        if (s->bytes != x[i].bytes) {
            r = pattn_error(pattnMismatch,
                            "ring (local transport): rank %d sends %zu bytes, rank %d expects %zu",
                            x[i].peer, s->bytes, c->rank, x[i].bytes);
            goto out;
        }
        if (!s->done)
            CUDA_OR(cudaEventCreateWithFlags(&s->done, cudaEventDisableTiming), "cudaEventCreate");
        CUDA_OR(cudaStreamWaitEvent(stream, s->ready, 0), "cudaStreamWaitEvent(ready)");
        if (s->bytes)
            CUDA_OR(cudaMemcpyPeerAsync(x[i].buf, c->device, s->src, s->src_device, s->bytes, stream),
                    "cudaMemcpyPeerAsync");
        CUDA_OR(cudaEventRecord(s->done, stream), "cudaEventRecord(done)");
        s->state = SLOT_DONE;
        pthread_cond_broadcast(&w->changed);
    }
    for (int i = 0; i < count; ++i) { /* the send buffers are reused only after their copies */
        if (!x[i].send)
            continue;
        slot_t *s = slot_of(w, c->rank, x[i].peer);
        if ((r = wait_for(w, c, s, SLOT_DONE, deadline, "the receipt of its block by", x[i].peer)))
            goto out;
        CUDA_OR(cudaStreamWaitEvent(stream, s->done, 0), "cudaStreamWaitEvent(done)");
        s->state = SLOT_EMPTY;
        pthread_cond_broadcast(&w->changed);
    }
out:
    pthread_mutex_unlock(&w->lock);
    return r;
}

static pattnResult_t local_wait(pattnComm_t c, cudaStream_t stream, double timeout)
{
    const double deadline = pattn_now() + timeout;
    for (;;) {
        cudaError_t e = cudaStreamQuery(stream);
        if (e == cudaSuccess)
            return pattnSuccess;
        if (e != cudaErrorNotReady)
            return pattn_error(pattnCudaError, "ring (local transport): rank %d: %s", c->rank,
                               cudaGetErrorString(e));
        if (pattn_now() > deadline)
            return pattn_error(pattnTimeout,
                               "ring (local transport): rank %d: the ring's work did not finish "
                               "within the timeout (%.1f s)",
                               c->rank, timeout);
        struct timespec ts = {0, 20000};
        nanosleep(&ts, NULL);
    }
}

static void local_abort(pattnComm_t c)
{
    world_t *w = c->impl;
    pthread_mutex_lock(&w->lock);
    if (w->failed_rank < 0)
        w->failed_rank = c->rank;
    pthread_cond_broadcast(&w->changed);
    pthread_mutex_unlock(&w->lock);
}

static void local_destroy(pattnComm_t c)
{
    world_t *w = c->impl;
    pthread_mutex_lock(&w->lock);
    const int last = --w->refs == 0;
    pthread_mutex_unlock(&w->lock);
    if (!last)
        return;
    for (int i = 0; i < w->nranks * w->nranks; ++i) {
        if (w->slots[i].ready)
            cudaEventDestroy(w->slots[i].ready);
        if (w->slots[i].done)
            cudaEventDestroy(w->slots[i].done);
    }
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->changed);
    free(w->slots);
    free(w);
}

const pattn_transport_ops_t pattn_local_transport = {"local", local_group, local_wait, local_abort,
                                                     local_destroy};

/* Used by comm.c's pattnCommInitLocal: a world of nranks ranks shared by comms[0..nranks). */
pattnResult_t pattn_local_world(pattnComm_t *comms, int nranks)
{
    world_t *w = calloc(1, sizeof *w);
    if (w)
        w->slots = calloc((size_t)nranks * nranks, sizeof *w->slots);
    if (!w || !w->slots) {
        free(w);
        return pattn_error(pattnSystemError, "pattnCommInitLocal: out of host memory");
    }
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->changed, NULL);
    w->nranks = w->refs = nranks;
    w->failed_rank = -1;
    for (int r = 0; r < nranks; ++r) {
        comms[r]->ops = &pattn_local_transport;
        comms[r]->impl = w;
    }
    return pattnSuccess;
}
