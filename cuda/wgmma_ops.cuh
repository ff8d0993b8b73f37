/*
 * wgmma_ops.cuh: the sm_90a (Hopper) instructions of the wgmma kernels: shared-memory
 * matrix descriptors for the 128-byte swizzled layout, the 128-byte swizzle itself (where a
 * 16-byte chunk of a tile lands), the wgmma fences and groups, the generic-to-async proxy
 * fence, named barriers, and wgmma.mma_async m64nNk16 (N = 64, 128; fp16/bf16 in, fp32 accumulate) with A
 * from shared memory or from registers, and (N = 64) both operands transposed in shared memory.
 *
 * Tile layout (K-major for Q and K, N-major for V, all the same bytes): a tile of ROWS rows and
 * D columns is D / 64 column blocks of ROWS x 128 bytes; in each, row r's 16-byte chunk c sits
 * at r * 128 + ((c ^ (r % 8)) * 16). Blocks start on 1024-byte boundaries.
 */
#ifndef PATTN_CUDA_WGMMA_OPS_CUH
#define PATTN_CUDA_WGMMA_OPS_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

namespace pattn {

/* Byte offset of 16-byte chunk c (of D / 8) of row r in a swizzled tile of `rows` rows. */
__device__ __forceinline__ uint32_t sw128_offset(int rows, int r, int c)
{
    return (uint32_t)((c / 8) * rows * 128 + r * 128 + (((c % 8) ^ (r % 8)) * 16));
}

/* Descriptor of a 128-byte swizzled operand at shared address addr: lbo = byte distance between
 * 64-column blocks along M/N (N-major operands only), sbo = between groups of 8 rows. */
__device__ __forceinline__ uint64_t sw128_desc(uint32_t addr, uint32_t lbo, uint32_t sbo)
{
    return (uint64_t)((addr & 0x3FFFF) >> 4) | ((uint64_t)(lbo >> 4) << 16) |
           ((uint64_t)(sbo >> 4) << 32) | (1ull << 62);
}

__device__ __forceinline__ uint32_t smem_u32(const void *p)
{
    return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

/* Before wgmma reads registers or shared memory that ordinary instructions wrote. */
__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int N> __device__ __forceinline__ void wgmma_wait()
{
    asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}
/* Shared memory written through the generic proxy (st.shared, cp.async) and read next by the
 * async proxy (wgmma): each writing thread fences before the barrier. */
__device__ __forceinline__ void fence_proxy_async()
{
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}
/* Keeps the compiler from moving accesses of an accumulator register across a wgmma wait. */
__device__ __forceinline__ void fence_reg(float &r) { asm volatile("" : "+f"(r)::"memory"); }
__device__ __forceinline__ void fence_reg(uint32_t &r) { asm volatile("" : "+r"(r)::"memory"); }
/* fence_reg on every register of an accumulator tile (fragment.cuh's layout). */
template <int NT> __device__ __forceinline__ void fence_tile(float (&s)[NT][4])
{
#pragma unroll
    for (int nt = 0; nt < NT; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e)
            fence_reg(s[nt][e]);
}

/* m64n64k16, both operands in shared memory, d = a b + (accumulate ? d : 0): TRANS "0, 0" reads
 * both K-major, "1, 1" both N-major (transposed: A stored K x M, B K x N). */
#define PATTN_WGMMA_SS_N64(NAME, PTX_T, TRANS)                                                  \
    static __device__ __forceinline__ void NAME(float *d, uint64_t a, uint64_t b, int accumulate)   \
    {                                                                                              \
        asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"                                  \
                     "wgmma.mma_async.sync.aligned.m64n64k16.f32." PTX_T "." PTX_T " "            \
                     "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, "                                                               \
                     "%32, %33, p, 1, 1, " TRANS ";\n}\n"                                            \
                     : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])                                                                 \
                     : "l"(a), "l"(b), "r"(accumulate));                                         \
    }
/* The same with d = a b, d written only (no accumulator read: nothing defines it before). */
#define PATTN_WGMMA_SS_INIT_N64(PTX_T)                                                          \
    static __device__ __forceinline__ void ss_init(float *d, uint64_t a, uint64_t b)             \
    {                                                                                              \
        asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"                                  \
                     "wgmma.mma_async.sync.aligned.m64n64k16.f32." PTX_T "." PTX_T " "            \
                     "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, "                                                               \
                     "%32, %33, p, 1, 1, 0, 0;\n}\n"                                            \
                     : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3]), "=f"(d[4]), "=f"(d[5]), "=f"(d[6]), "=f"(d[7]), "=f"(d[8]), "=f"(d[9]), "=f"(d[10]), "=f"(d[11]), "=f"(d[12]), "=f"(d[13]), "=f"(d[14]), "=f"(d[15]), "=f"(d[16]), "=f"(d[17]), "=f"(d[18]), "=f"(d[19]), "=f"(d[20]), "=f"(d[21]), "=f"(d[22]), "=f"(d[23]), "=f"(d[24]), "=f"(d[25]), "=f"(d[26]), "=f"(d[27]), "=f"(d[28]), "=f"(d[29]), "=f"(d[30]), "=f"(d[31])                                                                 \
                     : "l"(a), "l"(b), "r"(0));                                                  \
    }
/* m64n64k16, A (m64 x k16) in registers, B in shared memory N-major (transposed): d += a b. */
#define PATTN_WGMMA_RS_N64(PTX_T)                                                               \
    static __device__ __forceinline__ void rs(float *d, const uint32_t a[4], uint64_t b)          \
    {                                                                                              \
        asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"                                    \
                     "wgmma.mma_async.sync.aligned.m64n64k16.f32." PTX_T "." PTX_T " "            \
                     "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, "                                                               \
                     "{%32, %33, %34, %35}, %36, p, 1, 1, 1;\n}\n"                          \
                     : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])                                                                 \
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "r"(1));                       \
    }

/* m64n128k16, both operands in shared memory, d = a b + (accumulate ? d : 0) (TRANS as above). */
#define PATTN_WGMMA_SS_N128(NAME, PTX_T, TRANS)                                                  \
    static __device__ __forceinline__ void NAME(float *d, uint64_t a, uint64_t b, int accumulate)   \
    {                                                                                              \
        asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"                                  \
                     "wgmma.mma_async.sync.aligned.m64n128k16.f32." PTX_T "." PTX_T " "            \
                     "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, "                                                               \
                     "%64, %65, p, 1, 1, " TRANS ";\n}\n"                                            \
                     : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])                                                                 \
                     : "l"(a), "l"(b), "r"(accumulate));                                         \
    }
/* The same with d = a b, d written only (no accumulator read: nothing defines it before). */
#define PATTN_WGMMA_SS_INIT_N128(PTX_T)                                                          \
    static __device__ __forceinline__ void ss_init(float *d, uint64_t a, uint64_t b)             \
    {                                                                                              \
        asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"                                  \
                     "wgmma.mma_async.sync.aligned.m64n128k16.f32." PTX_T "." PTX_T " "            \
                     "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, "                                                               \
                     "%64, %65, p, 1, 1, 0, 0;\n}\n"                                            \
                     : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3]), "=f"(d[4]), "=f"(d[5]), "=f"(d[6]), "=f"(d[7]), "=f"(d[8]), "=f"(d[9]), "=f"(d[10]), "=f"(d[11]), "=f"(d[12]), "=f"(d[13]), "=f"(d[14]), "=f"(d[15]), "=f"(d[16]), "=f"(d[17]), "=f"(d[18]), "=f"(d[19]), "=f"(d[20]), "=f"(d[21]), "=f"(d[22]), "=f"(d[23]), "=f"(d[24]), "=f"(d[25]), "=f"(d[26]), "=f"(d[27]), "=f"(d[28]), "=f"(d[29]), "=f"(d[30]), "=f"(d[31]), "=f"(d[32]), "=f"(d[33]), "=f"(d[34]), "=f"(d[35]), "=f"(d[36]), "=f"(d[37]), "=f"(d[38]), "=f"(d[39]), "=f"(d[40]), "=f"(d[41]), "=f"(d[42]), "=f"(d[43]), "=f"(d[44]), "=f"(d[45]), "=f"(d[46]), "=f"(d[47]), "=f"(d[48]), "=f"(d[49]), "=f"(d[50]), "=f"(d[51]), "=f"(d[52]), "=f"(d[53]), "=f"(d[54]), "=f"(d[55]), "=f"(d[56]), "=f"(d[57]), "=f"(d[58]), "=f"(d[59]), "=f"(d[60]), "=f"(d[61]), "=f"(d[62]), "=f"(d[63])                                                                 \
                     : "l"(a), "l"(b), "r"(0));                                                  \
    }
/* m64n128k16, A (m64 x k16) in registers, B in shared memory N-major (transposed): d += a b. */
#define PATTN_WGMMA_RS_N128(PTX_T)                                                               \
    static __device__ __forceinline__ void rs(float *d, const uint32_t a[4], uint64_t b)          \
    {                                                                                              \
        asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\n"                                    \
                     "wgmma.mma_async.sync.aligned.m64n128k16.f32." PTX_T "." PTX_T " "            \
                     "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, "                                                               \
                     "{%64, %65, %66, %67}, %68, p, 1, 1, 1;\n}\n"                          \
                     : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])                                                                 \
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "r"(1));                       \
    }

template <typename T, int N> struct Wgmma;
template <> struct Wgmma<__half, 64> { PATTN_WGMMA_SS_N64(ss, "f16", "0, 0") PATTN_WGMMA_SS_N64(ss_tt, "f16", "1, 1") PATTN_WGMMA_SS_INIT_N64("f16") PATTN_WGMMA_RS_N64("f16") };
template <> struct Wgmma<__half, 128> { PATTN_WGMMA_SS_N128(ss, "f16", "0, 0") PATTN_WGMMA_SS_INIT_N128("f16") PATTN_WGMMA_RS_N128("f16") };
template <> struct Wgmma<__nv_bfloat16, 64> { PATTN_WGMMA_SS_N64(ss, "bf16", "0, 0") PATTN_WGMMA_SS_N64(ss_tt, "bf16", "1, 1") PATTN_WGMMA_SS_INIT_N64("bf16") PATTN_WGMMA_RS_N64("bf16") };
template <> struct Wgmma<__nv_bfloat16, 128> { PATTN_WGMMA_SS_N128(ss, "bf16", "0, 0") PATTN_WGMMA_SS_INIT_N128("bf16") PATTN_WGMMA_RS_N128("bf16") };

#undef PATTN_WGMMA_SS_N64
#undef PATTN_WGMMA_SS_INIT_N64
#undef PATTN_WGMMA_RS_N64
#undef PATTN_WGMMA_SS_N128
#undef PATTN_WGMMA_SS_INIT_N128
#undef PATTN_WGMMA_RS_N128

} // namespace pattn

#endif /* PATTN_CUDA_WGMMA_OPS_CUH */
