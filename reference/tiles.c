/*
 * tiles.c: the tile primitives of the reference: rows of a dtype array to fp32 and back, the
 * masked score tile S = scale Q K^T (cblas_sgemm), and the dropout bytes of a tile pair
 * (FlashAttention-2's Philox, 16 x 32 tiles at a time, at global positions).
 */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "dtype.h"
#include "philox.h"
#include "reference.h"

void ref_load_rows(pattnDtype_t dtype, const void *src, int64_t ld, int64_t row0, int64_t nrows,
                   int64_t col0, int64_t D, float *dst)
{
    for (int64_t i = 0; i < nrows; ++i) {
        int64_t at = (row0 + i) * ld + col0;
        switch (dtype) {
        case PATTN_FP16:
            ref_row_from_fp16((const uint16_t *)src + at, D, dst + i * D);
            break;
        case PATTN_BF16:
            ref_row_from_bf16((const uint16_t *)src + at, D, dst + i * D);
            break;
        default:
            memcpy(dst + i * D, (const float *)src + at, (size_t)D * sizeof *dst);
        }
    }
}

void ref_store_rows(pattnDtype_t dtype, void *dst, int64_t ld, int64_t row0, int64_t nrows,
                    int64_t col0, int64_t D, const float *src)
{
    for (int64_t i = 0; i < nrows; ++i) {
        int64_t at = (row0 + i) * ld + col0;
        const float *s = src + i * D;
        switch (dtype) {
        case PATTN_FP16:
            for (int64_t x = 0; x < D; ++x)
                ((uint16_t *)dst)[at + x] = pattn_f32_to_fp16(s[x]);
            break;
        case PATTN_BF16:
            for (int64_t x = 0; x < D; ++x)
                ((uint16_t *)dst)[at + x] = pattn_f32_to_bf16(s[x]);
            break;
        default:
            for (int64_t x = 0; x < D; ++x)
                ((float *)dst)[at + x] = s[x];
        }
    }
}

void ref_scores(const ref_ctx_t *c, ref_work_t *w, const ref_pair_t *pair)
{
    int64_t m = pair->q.len, n = pair->k.len, D = c->p->D;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, (int)D, c->p->scale, w->q,
                (int)D, w->k, (int)D, 0.0f, w->s, REF_BC);
    if (pair->full)
        return;
    for (int64_t i = 0; i < m; ++i) {
        /* Keys outside the query's visible span (core/mask.h) are hidden. */
        int64_t lo, hi;
        pattn_visible_span(PATTN_QUERY_MAJOR, 1, pair->shift, pair->q.pos + i, 1, 0, pair->k.pos,
                           n, &lo, &hi);
        float *s = w->s + i * REF_BC;
        for (int64_t j = hi - pair->k.pos < 0 ? 0 : hi - pair->k.pos; j < n; ++j)
            s[j] = -INFINITY;
    }
}

void ref_dropout_bytes(const ref_ctx_t *c, ref_work_t *w, const ref_pair_t *pair, int64_t h)
{
    int64_t qa = pair->q.pos, qb = qa + pair->q.len, ka = pair->k.pos, kb = ka + pair->k.len;
    uint8_t bytes[16][32];
    for (int64_t i0 = qa - qa % 16; i0 < qb; i0 += 16)
        for (int64_t j0 = ka - ka % 32; j0 < kb; j0 += 32) {
            pattn_dropout_tile(c->rng.seed, c->rng.offset, pair->q.unit, h, c->p->Hq, i0, j0,
                               bytes);
            int64_t ia = i0 > qa ? i0 : qa, ib = i0 + 16 < qb ? i0 + 16 : qb;
            int64_t ja = j0 > ka ? j0 : ka, jb = j0 + 32 < kb ? j0 + 32 : kb;
            for (int64_t i = ia; i < ib; ++i)
                for (int64_t j = ja; j < jb; ++j)
                    w->keep[(i - qa) * REF_BC + (j - ka)] = bytes[i - i0][j - j0];
        }
}
