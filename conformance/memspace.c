/*
 * memspace.c: host memory for the reference backend, and the backend -> space mapping
 * (memspace.h). The CUDA space is in memspace_cuda.c.
 */
#include "memspace.h"

#include <stdlib.h>
#include <string.h>

static int host_available(conf_error_t *why)
{
    (void)why;
    return 0;
}

static int host_alloc(void **ptr, size_t bytes, conf_error_t *err)
{
    if (!(*ptr = malloc(bytes ? bytes : 1)))
        return conf_fail(err, "out of host memory (%zu bytes)", bytes);
    return 0;
}

static int host_copy(void *dst, const void *src, size_t bytes, conf_error_t *err)
{
    (void)err;
    if (bytes)
        memcpy(dst, src, bytes);
    return 0;
}

static int host_devices(void) { return 1; }

static int host_use_device(int device, conf_error_t *err)
{
    (void)device;
    (void)err;
    return 0;
}

static const conf_memspace_t host_memspace = {"host",    host_available, host_alloc,   host_copy,
                                              host_copy, free,           host_devices, host_use_device};

const conf_memspace_t *memspace_for(pattnBackend_t backend)
{
    if (backend == PATTN_BACKEND_REFERENCE)
        return &host_memspace;
#ifdef PATTN_HAVE_CUDA
    if (backend == PATTN_BACKEND_CUDA)
        return &conf_cuda_memspace;
#endif
    return NULL;
}
