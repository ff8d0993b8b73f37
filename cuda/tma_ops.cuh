/*
 * tma_ops.cuh: the sm_90a instructions of the warp-specialised kernels (fwd_tma.cuh,
 * bwd_tma.cuh): shared-memory mbarriers (init, arrive, arrive with an expected transaction count,
 * parity wait with a watchdog), TMA tile loads (cp.async.bulk.tensor.2d into shared memory,
 * completing on an mbarrier), TMA tile reductions into global memory (bulk groups), and the
 * per-warpgroup register budget (setmaxnreg).
 *
 * Parity convention (CUTLASS's): a barrier's phase k completes when its arrivals and bytes are
 * in; wait(bar, k & 1) returns once phase k is complete. A fresh barrier is in phase 0, and a
 * wait for parity 1 on it returns at once, so an "empty" barrier starts out released.
 */
#ifndef PATTN_CUDA_TMA_OPS_CUH
#define PATTN_CUDA_TMA_OPS_CUH

#include <cuda.h>
#include <stdint.h>

#include "wgmma_ops.cuh"

namespace pattn {

__device__ __forceinline__ void mbar_init(uint64_t *bar, uint32_t count)
{
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(smem_u32(bar)), "r"(count)
                 : "memory");
}

/* Makes the barriers' initialisation visible to the async proxy (TMA) before any use. */
__device__ __forceinline__ void mbar_init_fence()
{
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
}

__device__ __forceinline__ void mbar_arrive(uint64_t *bar)
{
    asm volatile("{\n.reg .b64 st;\nmbarrier.arrive.shared::cta.b64 st, [%0];\n}\n" ::"r"(
                     smem_u32(bar))
                 : "memory");
}

__device__ __forceinline__ void mbar_arrive_if(uint64_t *bar, bool pred)
{
    asm volatile("{\n.reg .pred p;\n.reg .b64 st;\nsetp.ne.u32 p, %1, 0;\n"
                 "@p mbarrier.arrive.shared::cta.b64 st, [%0];\n}\n" ::"r"(smem_u32(bar)),
                 "r"((uint32_t)pred)
                 : "memory");
}

/* One arrival, and `bytes` more transaction bytes for the phase to wait for (TMA's). */
__device__ __forceinline__ void mbar_arrive_expect_tx(uint64_t *bar, uint32_t bytes)
{
    asm volatile("{\n.reg .b64 st;\nmbarrier.arrive.expect_tx.shared::cta.b64 st, [%0], %1;\n}\n" ::"r"(
                     smem_u32(bar)),
                 "r"(bytes)
                 : "memory");
}

__device__ __forceinline__ bool mbar_try_wait(uint64_t *bar, uint32_t parity)
{
    uint32_t done;
    asm volatile("{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n"
                 "selp.u32 %0, 1, 0, p;\n}\n"
                 : "=r"(done)
                 : "r"(smem_u32(bar)), "r"(parity)
                 : "memory");
    return done != 0;
}

/* One consumer warp's release of a buffer, once its wgmma waits are done: lane 0 arrives for
 * the warp (a predicated arrive, not a branch: wgmma code must not diverge). */
__device__ __forceinline__ void mbar_release_warp(uint64_t *bar)
{
    __syncwarp();
    mbar_arrive_if(bar, threadIdx.x % 32 == 0);
}

/* Waits for phase parity of bar. A barrier that never completes is a kernel bug: after about
 * 10 s (2^34 cycles) the kernel traps, so the launch fails instead of hanging the device. */
__device__ __forceinline__ void mbar_wait(uint64_t *bar, uint32_t parity)
{
    if (mbar_try_wait(bar, parity))
        return;
    const long long start = clock64();
    while (!mbar_try_wait(bar, parity))
        if (clock64() - start > (1ll << 34))
            __trap();
}

/* Loads the box at element coordinates (x, y) of tensor map tmap into shared memory at dst;
 * completes `box bytes` of bar's transaction count. Out-of-bounds elements become zeros. */
__device__ __forceinline__ void tma_load_2d(void *dst, const CUtensorMap *tmap, uint64_t *bar,
                                            int x, int y)
{
    asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes"
                 " [%0], [%1, {%3, %4}], [%2];\n" ::"r"(smem_u32(dst)),
                 "l"(reinterpret_cast<uint64_t>(tmap)), "r"(smem_u32(bar)), "r"(x), "r"(y)
                 : "memory");
}

/* Adds the box at shared address src into tensor map tmap's elements at (x, y) (fp32 add, in L2;
 * elements outside the map are left alone), as one bulk group of this thread's (bulk_commit);
 * the source may be rewritten once bulk_wait_read says the group read it. */
__device__ __forceinline__ void tma_reduce_add_2d(const CUtensorMap *tmap, const void *src, int x,
                                                  int y)
{
    asm volatile("cp.reduce.async.bulk.tensor.2d.global.shared::cta.add.tile.bulk_group"
                 " [%0, {%2, %3}], [%1];\n" ::"l"(reinterpret_cast<uint64_t>(tmap)),
                 "r"(smem_u32(src)), "r"(x), "r"(y)
                 : "memory");
}
__device__ __forceinline__ void bulk_commit() { asm volatile("cp.async.bulk.commit_group;\n" ::: "memory"); }
/* This thread's bulk groups but the newest N have read their sources / are complete. */
template <int N> __device__ __forceinline__ void bulk_wait_read()
{
    asm volatile("cp.async.bulk.wait_group.read %0;\n" ::"n"(N) : "memory");
}
template <int N> __device__ __forceinline__ void bulk_wait()
{
    asm volatile("cp.async.bulk.wait_group %0;\n" ::"n"(N) : "memory");
}

/* A counter in global memory that orders bulk operations of different CTAs (the deterministic
 * dQ, pattn_items_turns): wait_counter spins until *c == want (acquire, then a proxy fence so
 * that this thread's later bulk operations come after what the acquire saw; a trap after about
 * 10 s, as mbar_wait: a missed turn is a bug that must not hang); bump_counter publishes this
 * thread's completed bulk operations (bulk_wait first) and adds 1 (release). */
__device__ __forceinline__ void wait_counter(const int32_t *c, int32_t want)
{
    int32_t v;
    const long long start = clock64();
    for (;;) {
        asm volatile("ld.acquire.gpu.global.b32 %0, [%1];\n" : "=r"(v) : "l"(c) : "memory");
        if (v == want)
            break;
        if (clock64() - start > (1ll << 34))
            __trap();
    }
    asm volatile("fence.proxy.async.global;\n" ::: "memory");
}
__device__ __forceinline__ void bump_counter(int32_t *c)
{
    asm volatile("fence.proxy.async.global;\n" ::: "memory");
    asm volatile("red.release.gpu.global.add.s32 [%0], 1;\n" ::"l"(c) : "memory");
}

__device__ __forceinline__ void tma_prefetch_desc(const CUtensorMap *tmap)
{
    asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<uint64_t>(tmap)) : "memory");
}

/* The warpgroup's registers per thread from here on (all its warps execute it). */
template <int N> __device__ __forceinline__ void set_max_regs_dec()
{
    asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(N));
}
template <int N> __device__ __forceinline__ void set_max_regs_inc()
{
    asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(N));
}

} // namespace pattn

#endif /* PATTN_CUDA_TMA_OPS_CUH */
