/*
 * fragment.cuh: the steps of the attention algorithm on one warp's 16-row accumulator tile,
 * written once for the mma.sync and wgmma forwards and the backward (FlashAttention keeps its
 * softmax, mask and dropout the same way, in files every kernel includes).
 *
 * The tile is float s[NT][4], the m16n8 accumulator layout of mma.sync (which wgmma's
 * accumulator gives each warp of a warpgroup too): element e of 8-column chunk nt sits at row
 * lane / 4 + 8 (e / 2) and column nt * 8 + 2 (lane % 4) + e % 2. Rows are the tile's fixed side
 * (queries in query-major kernels, keys in key-major ones), columns the other side.
 */
#ifndef PATTN_CUDA_FRAGMENT_CUH
#define PATTN_CUDA_FRAGMENT_CUH

#include <stdint.h>

#include "device_common.cuh"
#include "mma_ops.cuh"
#include "philox.h"

namespace pattn {

/* Hides (-inf) the elements whose pair the mask hides: the fixed-side position of row 0 of the
 * warp tile is row0, the other side's position of column 0 is col0, and each row sees the
 * positions core/mask.h gives for one row against run r. */
template <pattn_orient_t O, int NT>
__device__ __forceinline__ void mask_tile(float (&s)[NT][4], int row0, int col0,
                                          const pattn_item_run_t &r)
{
    const int lane = threadIdx.x % 32, c = col0 + 2 * (lane % 4);
#pragma unroll
    for (int hh = 0; hh < 2; ++hh) {
        int lo, hi;
        pattn_visible_span32(O, r.causal, r.shift, row0 + lane / 4 + 8 * hh, 1, 0, r.pos, r.len,
                             &lo, &hi);
        const int a = lo - c, b = hi - c; /* visible chunk offsets [a, b) */
#pragma unroll
        for (int nt = 0; nt < NT; ++nt)
#pragma unroll
            for (int e = 0; e < 2; ++e)
                if (nt * 8 + e < a || nt * 8 + e >= b)
                    s[nt][2 * hh + e] = -CUDART_INF_F;
    }
}

/* The forward's online softmax of one tile of scores (raw units, masked -inf), without O: new
 * row maxima m, the row sums l rescaled and grown, s replaced by P = exp2(s scale log2(e) -
 * m scale log2(e)), and alpha, the factor O must be rescaled by (rescale_rows) before P V is
 * added. masked: whether the tile may hold -inf (then P = 0 there, also when the scale is 0). */
template <int NT>
__device__ __forceinline__ void softmax_tile(float (&s)[NT][4], float (&m)[2], float (&l)[2],
                                             float (&alpha)[2], bool masked, float sl2)
{
#pragma unroll
    for (int hh = 0; hh < 2; ++hh) {
        float mx = m[hh];
#pragma unroll
        for (int nt = 0; nt < NT; ++nt)
            mx = fmaxf(mx, fmaxf(s[nt][2 * hh], s[nt][2 * hh + 1]));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        const float msc = mx == -CUDART_INF_F ? 0.f : mx * sl2;
        alpha[hh] = m[hh] == -CUDART_INF_F ? 0.f : ex2(m[hh] * sl2 - msc);
        m[hh] = mx;
        float sum = 0.f;
#pragma unroll
        for (int nt = 0; nt < NT; ++nt)
#pragma unroll
            for (int e = 2 * hh; e < 2 * hh + 2; ++e) {
                const float x = s[nt][e];
                float p = ex2(fmaf(x, sl2, -msc));
                if (masked && x == -CUDART_INF_F)
                    p = 0.f;
                s[nt][e] = p;
                sum += p;
            }
        l[hh] = l[hh] * alpha[hh] + sum;
    }
}

/* O's rows times alpha (softmax_tile's). */
template <int DT>
__device__ __forceinline__ void rescale_rows(float (&o)[DT][4], const float (&alpha)[2])
{
#pragma unroll
    for (int dt = 0; dt < DT; ++dt)
#pragma unroll
        for (int e = 0; e < 4; ++e)
            o[dt][e] *= alpha[e / 2];
}

/* softmax_tile with O rescaled at once (the kernels whose P V follows in program order). */
template <int NT, int DT>
__device__ __forceinline__ void online_softmax(float (&s)[NT][4], float (&o)[DT][4],
                                               float (&m)[2], float (&l)[2], bool masked, float sl2)
{
    float alpha[2];
    softmax_tile(s, m, l, alpha, masked, sl2);
    rescale_rows(o, alpha);
}

/* The backward's probabilities P = exp2(s scale log2(e) - lse2) of a tile of scores, with the
 * final lse in base 2 (lse_log2) of each element's query: per row (query-major, lse2[hh] for
 * row lane/4 + 8 hh) or per column (key-major, lse2_col[c] for column c, in shared memory). */
template <int NT>
__device__ __forceinline__ void probs_by_row(float (&s)[NT][4], const float (&lse2)[2], float sl2,
                                             bool masked)
{
#pragma unroll
    for (int nt = 0; nt < NT; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
            const float x = s[nt][e];
            const float p = ex2(fmaf(x, sl2, -lse2[e / 2]));
            s[nt][e] = masked && x == -CUDART_INF_F ? 0.f : p;
        }
}

template <int NT>
__device__ __forceinline__ void probs_by_column(float (&s)[NT][4], const float *lse2_col,
                                                float sl2, bool masked)
{
    const int lane = threadIdx.x % 32;
#pragma unroll
    for (int nt = 0; nt < NT; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
            const float x = s[nt][e];
            const float p = ex2(fmaf(x, sl2, -lse2_col[nt * 8 + 2 * (lane % 4) + e % 2]));
            s[nt][e] = masked && x == -CUDART_INF_F ? 0.f : p;
        }
}

/* The backward's dS = P (dP - D) in place of dP (already times Z s with dropout), with D =
 * rowsum(dO O) of each element's query: per row (query-major, dsum[hh] for row lane/4 + 8 hh)
 * or per column (key-major, dsum_col[c] for column c, in shared memory), as the probabilities. */
template <int NT>
__device__ __forceinline__ void ds_by_row(float (&dp)[NT][4], const float (&p)[NT][4],
                                          const float (&dsum)[2])
{
#pragma unroll
    for (int nt = 0; nt < NT; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e)
            dp[nt][e] = p[nt][e] * (dp[nt][e] - dsum[e / 2]);
}

template <int NT>
__device__ __forceinline__ void ds_by_column(float (&dp)[NT][4], const float (&p)[NT][4],
                                             const float *dsum_col)
{
    const int lane = threadIdx.x % 32;
#pragma unroll
    for (int nt = 0; nt < NT; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e)
            dp[nt][e] = p[nt][e] * (dp[nt][e] - dsum_col[nt * 8 + 2 * (lane % 4) + e % 2]);
}

/* Dropout keep bits of a tile: bit nt * 4 + e of word (nt * 4 + e) / 32 is element (nt, e). */
template <int NT> struct Keep {
    uint32_t w[(NT * 4 + 31) / 32];
    __device__ __forceinline__ bool kept(int nt, int e) const
    {
        return (w[(nt * 4 + e) / 32] >> ((nt * 4 + e) % 32)) & 1u;
    }
};

/* Bit 7 of byte e set where byte e of w is <= t (the other bits clear), four bytes at a time:
 * 0x80 + (t & 0x7f) - (byte & 0x7f) keeps its high bit where the low seven bits are <= t's, and
 * the byte is <= t where (t >= 128 ? high bit clear or that : high bit clear and that). */
__device__ __forceinline__ uint32_t bytes_at_most_flags(uint32_t w, uint32_t t)
{
    const uint32_t low = ((t & 0x7fu) * 0x01010101u | 0x80808080u) - (w & 0x7f7f7f7fu);
    return (t & 0x80u ? (~w | low) : (~w & low)) & 0x80808080u;
}

/* The keep flags of Philox lane `lane` of the 16 x 32 tile (rows i0 = 16 row_tile, columns j0 =
 * 32 col_tile) of FlashAttention-2's mask (core/philox.h): word q's byte e has bit 7 set where
 * byte e of the lane's output word q keeps its element. head_off = offset + (unit * Hq + h) *
 * 32. */
__device__ __forceinline__ void keep_flags(const pattn_cuda_dropout_t &d, uint64_t head_off,
                                           int lane, uint32_t row_tile, uint32_t col_tile,
                                           uint32_t (&f)[4])
{
    const pattn_philox_out_t r = pattn_philox7(d.seed, head_off + lane, row_tile, col_tile);
#pragma unroll
    for (int q = 0; q < 4; ++q)
        f[q] = bytes_at_most_flags(r.w[q], d.keep_threshold);
}

/* The same 16 keep bits gathered: bit q * 4 + e is byte e of word q (the multiply gathers bits
 * 7, 15, 23, 31 of a word's flags into bits 28..31; no two products overlap). */
__device__ __forceinline__ uint32_t keep_bits(const pattn_cuda_dropout_t &d, uint64_t head_off,
                                              int lane, uint32_t row_tile, uint32_t col_tile)
{
    uint32_t f[4], bits = 0;
    keep_flags(d, head_off, lane, row_tile, col_tile, f);
#pragma unroll
    for (int q = 0; q < 4; ++q)
        bits |= ((f[q] * 0x00204081u) >> 28) << (4 * q);
    return bits;
}

/* A query-major tile's keep flags for its P packed in the dtype (keep_flags_query_major): word
 * nt's byte e has bit 7 set where element (nt, e) is kept. */
template <int NT> struct KeepFlags {
    uint32_t w[NT];
};

/* keep_query_major's elements as flags, not gathered into bits: where P is dropped after it was
 * packed (mask_packed), the flags' bytes select the packed halves without a test per element
 * (fwd_tma: +2-10% at p = 0.1 on the H200, PERF.md; the kernels that drop P in fp32, or hold
 * no registers for NT words per tile, take keep_query_major's bits). */
template <int NT>
__device__ __forceinline__ KeepFlags<NT> keep_flags_query_major(const pattn_cuda_dropout_t &d,
                                                               uint64_t head_off, int row0, int col0)
{
    static_assert(NT % 4 == 0, "query-major dropout takes whole 32-key groups");
    const int lane = threadIdx.x % 32;
    KeepFlags<NT> k;
#pragma unroll
    for (int g = 0; g < NT / 4; ++g) {
        uint32_t f[4];
        keep_flags(d, head_off, lane, (uint32_t)(row0 / 16), (uint32_t)((col0 + 32 * g) / 32), f);
#pragma unroll
        for (int q = 0; q < 4; ++q)
            k.w[4 * g + q] = f[q];
    }
    return k;
}

/* pa (pack_p's operands of a query-major tile) with the dropped elements' halves zeroed: a
 * packed pair (nt, e), (nt, e + 1) takes the flags of bytes e and e + 1 of word nt, each
 * widened to 16 bits by prmt's sign replication (selector nibble 8 + byte). The same as packing
 * apply_keep(s, keep, 1): a dropped element packs as +0 either way. */
template <int NT>
__device__ __forceinline__ void mask_packed(uint32_t (&pa)[NT / 2][4], const KeepFlags<NT> &k)
{
#pragma unroll
    for (int kk = 0; kk < NT / 2; ++kk)
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const uint32_t f = k.w[2 * kk + i / 2];
            uint32_t m;
            asm("prmt.b32 %0, %1, 0, %2;" : "=r"(m) : "r"(f), "r"(i % 2 ? 0xbbaau : 0x9988u));
            pa[kk][i] &= m;
        }
}

/* Query-major tile (rows = queries at row0, a multiple of 16; columns = keys at col0, a multiple
 * of 32): in the m16n8 layout thread t holds exactly Philox lane t's elements of each 16 x 32
 * tile, byte e of word q being element e of chunk q of the 32 columns (pattn_dropout_lane/byte). */
template <int NT>
__device__ __forceinline__ Keep<NT> keep_query_major(const pattn_cuda_dropout_t &d,
                                                     uint64_t head_off, int row0, int col0)
{
    static_assert(NT % 4 == 0, "query-major dropout takes whole 32-key groups");
    const int lane = threadIdx.x % 32;
    Keep<NT> k = {};
#pragma unroll
    for (int g = 0; g < NT / 4; ++g) {
        const uint32_t bits =
            keep_bits(d, head_off, lane, (uint32_t)(row0 / 16), (uint32_t)((col0 + 32 * g) / 32));
        k.w[(16 * g) / 32] |= bits << ((16 * g) % 32);
    }
    return k;
}

/* Where the two warps of a key-major Philox tile meet (keep_key_major): the warps of keys
 * [32 i, 32 i + 16) and [32 i + 16, 32 i + 32) of one 32-key Philox tile each compute half of its
 * lanes' calls and hand the other the bytes its keys need, through shared memory: this warp's
 * key_pair_words x 32 words `mine`, its partner's `theirs` (not to be rewritten before the
 * partner has read them: callers alternate two sets between steps), and the named barrier the
 * two warps (64 threads) meet at. */
struct KeyPair {
    uint32_t *mine;
    const uint32_t *theirs;
    int barrier;
};
template <int NT> __host__ __device__ constexpr int key_pair_words() { return (NT / 2 + 3) / 4; }
/* The shared words of the exchange of `warps` warps (in pairs 2 i, 2 i + 1): two sets. */
template <int NT> __host__ __device__ constexpr int key_pair_exchange_words(int warps)
{
    return 2 * warps * key_pair_words<NT>() * 32;
}
/* Warp `warp`'s KeyPair at step `step` in the exchange at `base` (key_pair_exchange_words): the
 * set alternates with the step's parity, pair i meets at named barrier first_barrier + i. */
template <int NT>
__device__ __forceinline__ KeyPair key_pair_at(uint32_t *base, int warps, int warp, int step,
                                               int first_barrier)
{
    constexpr int KW = key_pair_words<NT>() * 32;
    uint32_t *const set = base + (step % 2) * (warps * KW);
    return KeyPair{set + warp * KW, set + (warp ^ 1) * KW, first_barrier + warp / 2};
}

/* Key-major tile (rows = the warp's 16 keys at row0, a multiple of 16; columns = queries at col0,
 * a multiple of 16): thread t's elements belong to Philox lanes 8 (t % 4) + 4 e + t / 8 of the
 * 16 x 32 tile of queries [col0 + 16 g, +16) and keys [row0 & ~31, +32), byte half = (row0 / 16)
 * % 2 of each lane's 16 bits (bit 4 hk + 2 (chunk % 2) + (t / 4) % 2 of it). The warp computes
 * the calls of the groups g % 2 == half and gets the others' bytes from its partner (whose row0
 * differs in bit 4 only), half the calls of the tiles it meets; each lane then holds its own
 * Philox lane's byte of every group g in byte g % 4 of word g / 4, and the warp exchanges whole
 * words. */
template <int NT>
__device__ __forceinline__ Keep<NT> keep_key_major(const pattn_cuda_dropout_t &d,
                                                   uint64_t head_off, int row0, int col0,
                                                   const KeyPair &pair)
{
    static_assert(NT % 4 == 0, "a pair splits whole 16-query groups evenly");
    constexpr int G = NT / 2, WORDS = key_pair_words<NT>();
    const int lane = threadIdx.x % 32, half = (row0 / 16) % 2, low = (lane / 4) % 2;
    const uint32_t row_tile = (uint32_t)(row0 / 32);
    uint32_t own[WORDS] = {}, give[WORDS] = {};
#pragma unroll
    for (int i = 0; i < G / 2; ++i) {
        const int g = 2 * i + half, at = 8 * (g % 4); /* word g / 4 = i / 2 */
        const uint32_t b = keep_bits(d, head_off, lane, (uint32_t)((col0 + 16 * g) / 16), row_tile);
        own[i / 2] |= ((b >> (8 * half)) & 0xffu) << at;
        give[i / 2] |= ((b >> (8 - 8 * half)) & 0xffu) << at;
    }
#pragma unroll
    for (int k = 0; k < WORDS; ++k)
        pair.mine[32 * k + lane] = give[k];
    named_barrier_sync(pair.barrier, 64);
#pragma unroll
    for (int k = 0; k < WORDS; ++k)
        own[k] |= pair.theirs[32 * k + lane];
    /* Element (2 g + ntp, 2 hk + e), bit 8 g + 4 ntp + 2 hk + e of Keep, is bit 8 g + 4 hk +
     * 2 ntp + low of the word that lane 8 (t % 4) + 4 e + t / 8 holds: per byte, bits 2 and 4
     * trade places. */
    static_assert(sizeof(Keep<NT>) == WORDS * 4, "a Keep word per exchanged word");
    Keep<NT> k = {};
#pragma unroll
    for (int wi = 0; wi < WORDS; ++wi)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
            const uint32_t y =
                (__shfl_sync(0xffffffffu, own[wi], 8 * (lane % 4) + 4 * e + lane / 8) >> low) &
                0x55555555u;
            k.w[wi] |= ((y & 0x41414141u) | ((y & 0x04040404u) << 2) | ((y & 0x10101010u) >> 2)) << e;
        }
    return k;
}

/* s = kept ? s * f : 0. */
template <int NT>
__device__ __forceinline__ void apply_keep(float (&s)[NT][4], const Keep<NT> &k, float f)
{
#pragma unroll
    for (int nt = 0; nt < NT; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e)
            s[nt][e] = k.kept(nt, e) ? s[nt][e] * f : 0.f;
}

/* Chunks 2 kk and 2 kk + 1 of an accumulator tile as the A operand (16 x 16) of the next mma, in
 * the dtype T: the accumulator layout of two 8-column chunks is the A fragment's. */
template <typename T, int NT>
__device__ __forceinline__ void pack_a(const float (&s)[NT][4], int kk, uint32_t (&a)[4])
{
    a[0] = Mma<T>::pack(s[2 * kk][0], s[2 * kk][1]);
    a[1] = Mma<T>::pack(s[2 * kk][2], s[2 * kk][3]);
    a[2] = Mma<T>::pack(s[2 * kk + 1][0], s[2 * kk + 1][1]);
    a[3] = Mma<T>::pack(s[2 * kk + 1][2], s[2 * kk + 1][3]);
}

/* The remainders of pack_a's rounding, s - hi, as a second A operand (hi: pack_a's output). */
template <typename T, int NT>
__device__ __forceinline__ void pack_a_rest(const float (&s)[NT][4], int kk, const uint32_t (&hi)[4],
                                            uint32_t (&lo)[4])
{
    const float *x[4][2] = {{&s[2 * kk][0], &s[2 * kk][1]},
                            {&s[2 * kk][2], &s[2 * kk][3]},
                            {&s[2 * kk + 1][0], &s[2 * kk + 1][1]},
                            {&s[2 * kk + 1][2], &s[2 * kk + 1][3]}};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        float h0, h1;
        Mma<T>::unpack(hi[i], h0, h1);
        lo[i] = Mma<T>::pack(*x[i][0] - h0, *x[i][1] - h1);
    }
}

template <int NT> __device__ __forceinline__ void zero(float (&s)[NT][4])
{
#pragma unroll
    for (int nt = 0; nt < NT; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e)
            s[nt][e] = 0.f;
}

} // namespace pattn

#endif /* PATTN_CUDA_FRAGMENT_CUH */
