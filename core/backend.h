/*
 * backend.h: the backend registry (BLIS-style). Each backend fills a pattn_backend_t; a NULL
 * entry, or a `supports` hook that says no, means "unsupported" with a message, never a wrong
 * answer. core/api.c validates, picks the backend, and calls these with a pattn_problem_t.
 *
 * Arrays are indexed by ring index 0..n-1 for the emulated ring; a single-rank call passes
 * arrays of one (n == 1). All pointers of one call live in the backend's memory space (host
 * for the reference, device for cuda); rng_state and cu_seqlens are always on the host.
 */
#ifndef PATTN_CORE_BACKEND_H
#define PATTN_CORE_BACKEND_H

#include "problem.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The generator state a call uses (the values written to rng_state). */
typedef struct pattn_rng {
    uint64_t seed;
    uint64_t offset;
} pattn_rng_t;

typedef struct pattn_fwd_io {
    const void *const *qkv;
    void *const *out;
    float *const *lse;
    float *const *softmax; /* NULL unless return_softmax */
    const pattnStepObserver_t *observer; /* may be NULL */
    void *stream;                        /* cuda stream, or NULL */
    void **state; /* the handle's slot for the backend's state (caches), or NULL: no handle */
    pattnComm_t comm; /* the ring backend's communicator (pattnSetComm), or NULL */
    double timeout;   /* seconds a ring call waits for a peer */
} pattn_fwd_io_t;

typedef struct pattn_bwd_io {
    const void *const *qkv;
    const void *const *out;
    const float *const *lse;
    const void *const *dout;
    void *const *dqkv;
    void *stream;
    void **state; /* as in pattn_fwd_io_t */
    pattnComm_t comm;
    double timeout;
} pattn_bwd_io_t;

typedef struct pattn_backend {
    const char *name;
    /* pattnSuccess when the backend has a path for prob (forward or backward), else
     * pattnUnsupported with a message. emulated_ring: whether all n members run in this
     * process. */
    pattnResult_t (*supports)(const pattn_problem_t *prob, int backward, int emulated_ring);
    pattnResult_t (*forward)(const pattn_problem_t *prob, pattn_rng_t rng, const pattn_fwd_io_t *io);
    pattnResult_t (*backward)(const pattn_problem_t *prob, pattn_rng_t rng,
                              const pattn_bwd_io_t *io);
    /* Whether ptr is memory this backend computes on (used by PATTN_BACKEND_AUTO). */
    int (*owns_pointer)(const void *ptr);
    /* Frees what the backend kept in a handle's state slot (NULL: it keeps nothing). */
    void (*state_free)(void *state);
} pattn_backend_t;

/* The backends compiled into this build. */
extern const pattn_backend_t pattn_reference_backend;
#ifdef PATTN_HAVE_CUDA
extern const pattn_backend_t pattn_cuda_backend;
extern const pattn_backend_t pattn_ring_backend; /* dist/: CUDA kernels + a communicator */
#endif

#ifdef __cplusplus
}
#endif

#endif /* PATTN_CORE_BACKEND_H */
