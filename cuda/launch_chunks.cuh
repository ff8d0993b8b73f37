/*
 * launch_chunks.cuh: runs a list of work items through a kernel launcher in launches of
 * PATTN_CUDA_ITEMS_PER_LAUNCH items (the list travels in the kernel's parameter block), with
 * every failure turned into a pattnCudaError naming the kernel.
 */
#ifndef PATTN_CUDA_LAUNCH_CHUNKS_CUH
#define PATTN_CUDA_LAUNCH_CHUNKS_CUH

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include "fwd_args.h"
#include "check.h"

namespace pattn {

/* launch(const pattn_cuda_fwd_launch_t *L, int ctas, cudaStream_t) -> cudaError_t. */
template <class Launcher>
pattnResult_t launch_in_chunks(const pattn_cuda_fwd_args_t *a, const pattn_cuda_item_t *items,
                               int64_t count, cudaStream_t stream, const char *what,
                               const Launcher &launch)
{
    if (count <= 0)
        return pattnSuccess;
    pattn_cuda_fwd_launch_t *L =
        static_cast<pattn_cuda_fwd_launch_t *>(malloc(sizeof(pattn_cuda_fwd_launch_t)));
    if (!L)
        return pattn_error(pattnSystemError, "%s: out of host memory for a launch", what);
    L->a = *a;
    const int64_t ctas_per_item = (int64_t)a->B * a->Hq;
    pattnResult_t r = pattnSuccess;
    for (int64_t i = 0; i < count && r == pattnSuccess; i += PATTN_CUDA_ITEMS_PER_LAUNCH) {
        const int n = (int)(count - i < PATTN_CUDA_ITEMS_PER_LAUNCH ? count - i
                                                                    : PATTN_CUDA_ITEMS_PER_LAUNCH);
        memcpy(L->items, items + i, (size_t)n * sizeof(pattn_cuda_item_t));
        L->num_items = n;
        const int64_t ctas = n * ctas_per_item;
        if (ctas > INT_MAX) {
            r = pattn_error(pattnUnsupported,
                            "%s: %d query tiles x %d samples x %d heads = %lld CTAs exceed one "
                            "launch (%d)",
                            what, n, a->B, a->Hq, (long long)ctas, INT_MAX);
            break;
        }
        const cudaError_t e = launch(L, (int)ctas, stream);
        if (e != cudaSuccess)
            r = pattn_error(pattnCudaError, "%s kernel launch (%d items, %lld CTAs) failed: %s",
                            what, n, (long long)ctas, cudaGetErrorString(e));
    }
    free(L);
    return r;
}

} // namespace pattn

#endif /* PATTN_CUDA_LAUNCH_CHUNKS_CUH */
