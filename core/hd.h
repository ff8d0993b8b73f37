/*
 * hd.h: PATTN_HD marks the small inline functions of core/ that the host C code and the CUDA
 * kernels share (Philox, the LSE merge, the mask predicate).
 */
#ifndef PATTN_CORE_HD_H
#define PATTN_CORE_HD_H

#if defined(__CUDACC__)
#define PATTN_HD __host__ __device__ __forceinline__
#else
#define PATTN_HD static inline
#endif

#endif /* PATTN_CORE_HD_H */
