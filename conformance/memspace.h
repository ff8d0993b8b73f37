/*
 * memspace.h: where a backend's arrays live. The reference computes on host memory; the
 * CUDA backend on device memory, so a run allocates there, uploads inputs (and poisoned
 * outputs) and downloads outputs afterwards. The CUDA space exists only in CUDA builds.
 */
#ifndef CONF_MEMSPACE_H
#define CONF_MEMSPACE_H

#include <stddef.h>

#include "error.h"
#include "parallel_attn.h"

typedef struct conf_memspace {
    const char *name;
    /* 0 when the space can be used on this machine, else -1 with the reason. */
    int (*available)(conf_error_t *why);
    int (*alloc)(void **ptr, size_t bytes, conf_error_t *err);
    int (*upload)(void *dst, const void *host_src, size_t bytes, conf_error_t *err);
    /* Waits for queued work on the space, then copies. */
    int (*download)(void *host_dst, const void *src, size_t bytes, conf_error_t *err);
    void (*release)(void *ptr);
    /* Devices the space has (1 for host memory), and making device d the calling thread's
     * (the ring members of a GPU ring run on their own threads, each on its own device). */
    int (*devices)(void);
    int (*use_device)(int device, conf_error_t *err);
} conf_memspace_t;

/* The memory space of a backend, or NULL when this build does not have the backend. */
const conf_memspace_t *memspace_for(pattnBackend_t backend);

#ifdef PATTN_HAVE_CUDA
extern const conf_memspace_t conf_cuda_memspace;
#endif

#endif /* CONF_MEMSPACE_H */
