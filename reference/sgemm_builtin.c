/*
 * sgemm_builtin.c: the reference's own single-threaded sgemm, used where the loaded BLAS is not
 * safe to call from several threads at once (sgemm.c decides).
 *
 * C = alpha op(A) op(B) + beta C, row-major. op(B) is packed 16 columns at a time (zero-padded),
 * then a 6 x 16 block of C at a time is accumulated in registers over the whole k dimension:
 * every element is sum_p a_ip b_pj, summed in order in blocks of 32 terms whose sums are added in
 * order (then scaled and added to C), whatever the block of C it falls in, so the result does
 * not depend on the shapes around it or the thread, and its error grows like that of a blocked
 * sum, not a sequential one. It is compiled with FMA contraction (reference/CMakeLists.txt), so the AVX-512 version
 * fuses and the others do not: results are reproducible on one machine, not across machines.
 * On the reference's tile shapes it runs at 60-90% of OpenBLAS's SkylakeX kernel.
 */
#include <string.h>

#include "reference.h"

#define MR 6  /* rows of C per register block: 6 x 16 accumulators fit 16 AVX2 registers */
#define NR 16 /* columns per packed panel: one AVX-512 register, two AVX2 ones */
#define KC 256 /* k per packed panel: 16 KiB, in L1 */
#define KB 32  /* k per partial sum: the error grows with KB + k / KB terms, not with k */

typedef float vec16 __attribute__((vector_size(NR * sizeof(float))));
/* The helpers must be inlined into each clone of ref_sgemm_builtin to get its instruction set. */
#define INLINE static inline __attribute__((always_inline))

/* op(B)[p0 .. p0 + kc) x [j0, j0 + NR) into bp, columns past n zero. */
INLINE void pack_b(int transb, const float *b, int ldb, int p0, int kc, int j0, int n, float *bp)
{
    int w = n - j0 < NR ? n - j0 : NR;
    for (int p = 0; p < kc; ++p) {
        float *dst = bp + p * NR;
        if (transb)
            for (int j = 0; j < w; ++j)
                dst[j] = b[(int64_t)(j0 + j) * ldb + p0 + p];
        else
            memcpy(dst, b + (int64_t)(p0 + p) * ldb + j0, (size_t)w * sizeof *dst);
        for (int j = w; j < NR; ++j)
            dst[j] = 0.0f;
    }
}

/* acc[i] = sum over p of op(A)[i0 + i][p0 + p] * bp[p], rows past m read row m - 1, summed in
 * blocks of KB terms. The loops over i are unrolled so that the accumulators live in
 * registers. */
INLINE void block_product(int transa, const float *a, int lda, int m, int i0, int p0, int kc,
                          const float *bp, vec16 acc[MR])
{
    /* op(A)[i][p] is at a[i * lda + p] or, transposed, at a[p * lda + i]. */
    int64_t step = transa ? lda : 1;
    const float *row[MR];
    vec16 c[MR];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
        int64_t r = i0 + i < m ? i0 + i : m - 1;
        row[i] = transa ? a + (int64_t)p0 * lda + r : a + r * lda + p0;
        c[i] = (vec16){0};
    }
    for (int pb = 0; pb < kc; pb += KB) {
        vec16 part[MR];
#pragma GCC unroll 8
        for (int i = 0; i < MR; ++i)
            part[i] = (vec16){0};
        for (int p = pb; p < kc && p < pb + KB; ++p) {
            vec16 bv;
            memcpy(&bv, bp + p * NR, sizeof bv);
#pragma GCC unroll 8
            for (int i = 0; i < MR; ++i)
                part[i] += row[i][p * step] * bv;
        }
#pragma GCC unroll 8
        for (int i = 0; i < MR; ++i)
            c[i] += part[i];
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i)
        acc[i] = c[i];
}

/* c[0 .. min(w, NR)) = alpha sum + keep c (c not read when keep is 0). */
INLINE void store_row(float *c, int w, float alpha, const vec16 *sum, float keep)
{
    vec16 v = alpha * *sum;
    if (w >= NR) {
        if (keep != 0.0f) {
            vec16 old;
            memcpy(&old, c, sizeof old);
            v += keep * old;
        }
        memcpy(c, &v, sizeof v);
        return;
    }
    float part[NR];
    memcpy(part, &v, sizeof part);
    for (int j = 0; j < w; ++j)
        c[j] = keep == 0.0f ? part[j] : part[j] + keep * c[j];
}

REF_MULTIVERSION void ref_sgemm_builtin(int transa, int transb, int m, int n, int k, float alpha,
                                        const float *a, int lda, const float *b, int ldb,
                                        float beta, float *c, int ldc)
{
    float bp[KC * NR] __attribute__((aligned(64)));
    vec16 acc[MR];
    for (int j0 = 0; j0 < n; j0 += NR)
        for (int p0 = 0; p0 < k || p0 == 0; p0 += KC) {
            int kc = k - p0 < KC ? k - p0 : KC;
            /* After the first k panel C already holds its part: add to it. */
            float keep = p0 == 0 ? beta : 1.0f;
            pack_b(transb, b, ldb, p0, kc, j0, n, bp);
            for (int i0 = 0; i0 < m; i0 += MR) {
                block_product(transa, a, lda, m, i0, p0, kc, bp, acc);
                for (int i = 0; i < MR && i0 + i < m; ++i)
                    store_row(c + (int64_t)(i0 + i) * ldc + j0, n - j0, alpha, &acc[i], keep);
            }
        }
}
