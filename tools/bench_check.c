/*
 * bench_check.c: comparing a timed row's output with the reference on a sample (bench_check.h).
 */
#include "bench_check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "tolerance.h"

/* The reference's run of the sample: its own qkv and dout (copied out of the row's) and what
 * it computed. */
typedef struct sample {
    bench_case_t c;
    int64_t cols, out_cols;
    void *qkv, *dout, *out, *dqkv;
    float *lse;
    int64_t rng_state[2];
} sample_t;

/* Copies `count` elements of each of rows rows, from column src_col of a (rows, src_cols) array
 * to column dst_col of a (rows, dst_cols) one. */
static void copy_columns(pattnDtype_t t, void *dst, int64_t dst_cols, int64_t dst_col,
                         const void *src, int64_t src_cols, int64_t src_col, int64_t rows,
                         int64_t count)
{
    size_t e = pattn_dtype_size(t);
    for (int64_t r = 0; r < rows; ++r)
        memcpy((char *)dst + ((size_t)(r * dst_cols + dst_col)) * e,
               (const char *)src + ((size_t)(r * src_cols + src_col)) * e, (size_t)count * e);
}

/* Where the sample's K and V heads start in the row's qkv and in the sample's. */
static void kv_columns(const bench_case_t *row, const sample_t *s, int64_t src[2], int64_t dst[2])
{
    int64_t D = row->head_dim;
    src[0] = row->heads * D;
    src[1] = (row->heads + row->kv_heads) * D;
    dst[0] = s->c.heads * D;
    dst[1] = (s->c.heads + s->c.kv_heads) * D;
}

static pattnResult_t run_sample(const bench_case_t *row, const bench_outputs_t *got, sample_t *s,
                                bench_result_t *res)
{
    int64_t D = row->head_dim, L = row->seqlen, src[2], dst[2];
    s->c = *row;
    s->c.batch = 1;
    if (row->dropout == 0) {
        s->c.heads = row->heads / row->kv_heads;
        s->c.kv_heads = 1;
    }
    s->cols = (s->c.heads + 2 * s->c.kv_heads) * D;
    s->out_cols = s->c.heads * D;
    size_t e = pattn_dtype_size(row->dtype);
    s->qkv = malloc((size_t)(L * s->cols) * e);
    s->out = malloc((size_t)(L * s->out_cols) * e);
    s->lse = malloc((size_t)(L * s->c.heads) * sizeof *s->lse);
    if (row->backward) {
        s->dout = malloc((size_t)(L * s->out_cols) * e);
        s->dqkv = malloc((size_t)(L * s->cols) * e);
    }
    if (!s->qkv || !s->out || !s->lse || (row->backward && (!s->dout || !s->dqkv)))
        return bench_fail(res, pattnSystemError, "check: out of host memory for the sample");
    int64_t qkv_cols = (row->heads + 2 * row->kv_heads) * D;
    kv_columns(row, s, src, dst);
    copy_columns(row->dtype, s->qkv, s->cols, 0, got->qkv, qkv_cols, 0, L, s->out_cols);
    for (int kv = 0; kv < 2; ++kv)
        copy_columns(row->dtype, s->qkv, s->cols, dst[kv], got->qkv, qkv_cols, src[kv], L,
                     s->c.kv_heads * D);
    pattnParams_t params;
    int64_t seq_lens[1], cp_groups[1];
    bench_case_params(&s->c, &params, seq_lens, cp_groups);
    pattnGenerator_t gen = {(uint64_t)got->rng_state[0], (uint64_t)got->rng_state[1]};
    pattnHandle_t h;
    pattnResult_t r = pattnCreate(&h, PATTN_BACKEND_REFERENCE);
    if (r == pattnSuccess) {
        r = pattnForward(h, &params, &gen, s->qkv, s->out, s->lse, s->rng_state, NULL);
        if (r == pattnSuccess && row->backward) {
            copy_columns(row->dtype, s->dout, s->out_cols, 0, got->dout, row->heads * D, 0, L,
                         s->out_cols);
            r = pattnBackward(h, &params, s->qkv, s->out, s->lse, s->rng_state, s->dout, s->dqkv);
        }
        pattnDestroy(h);
    }
    if (r != pattnSuccess)
        return bench_fail(res, r, "check: the reference on the sample: %s: %s",
                          pattnGetErrorString(r), pattnGetLastError());
    return pattnSuccess;
}

/* Counts the elements of `rows` rows x count columns beyond atol + rtol |ref| (or not finite
 * where the reference is). */
static void count_wrong(pattnDtype_t t, const void *got, int64_t got_cols, int64_t got_col,
                        const void *ref, int64_t ref_cols, int64_t ref_col, int64_t rows,
                        int64_t count, double atol, double rtol, bench_result_t *res)
{
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t i = 0; i < count; ++i) {
            double g = pattn_load(t, got, r * got_cols + got_col + i);
            double e = pattn_load(t, ref, r * ref_cols + ref_col + i);
            int same_nonfinite = !isfinite(e) && (g == e || (isnan(g) && isnan(e)));
            res->wrong += !same_nonfinite && !(fabs(g - e) <= atol + rtol * fabs(e));
            ++res->checked;
        }
}

static void compare_sample(const bench_case_t *row, const bench_outputs_t *got, const sample_t *s,
                           bench_result_t *res)
{
    conf_tolerance_t tol = tolerance_default(row->dtype, row->dropout);
    int64_t D = row->head_dim, L = row->seqlen, src[2], dst[2];
    res->checked = res->wrong = 0;
    count_wrong(row->dtype, got->out, row->heads * D, 0, s->out, s->out_cols, 0, L, s->out_cols,
                tol.atol_out, tol.rtol_out, res);
    /* lse (B, Hq, L): sample 0's first heads are its first c.heads * L entries */
    count_wrong(PATTN_FP32, got->lse, 0, 0, s->lse, 0, 0, 1, s->c.heads * L, tol.atol_lse, 0, res);
    if (!row->backward)
        return;
    int64_t qkv_cols = (row->heads + 2 * row->kv_heads) * D;
    kv_columns(row, s, src, dst);
    count_wrong(row->dtype, got->dqkv, qkv_cols, 0, s->dqkv, s->cols, 0, L, s->out_cols,
                tol.atol_dqkv, tol.rtol_dqkv, res);
    for (int kv = 0; kv < 2; ++kv)
        count_wrong(row->dtype, got->dqkv, qkv_cols, src[kv], s->dqkv, s->cols, dst[kv], L,
                    s->c.kv_heads * D, tol.atol_dqkv, tol.rtol_dqkv, res);
}

void bench_check_row(const bench_case_t *c, const bench_outputs_t *got, bench_result_t *res)
{
    sample_t s;
    memset(&s, 0, sizeof s);
    if (run_sample(c, got, &s, res) == pattnSuccess)
        compare_sample(c, got, &s, res);
    free(s.qkv);
    free(s.out);
    free(s.lse);
    free(s.dout);
    free(s.dqkv);
}
