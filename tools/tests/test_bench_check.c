/*
 * test_bench_check.c: pattn-bench's #wrong (bench_check.h). A row's outputs computed by the
 * reference check clean; one element pushed beyond the tolerance inside the sample (sample 0,
 * first KV group; every head of sample 0 with dropout) counts exactly once, in the forward's
 * out and lse and in the backward's dQ, dK and dV; a change outside the sample is not seen.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "bench_check.h"
#include "dtype.h"

typedef struct row {
    bench_case_t c;
    pattnParams_t params;
    int64_t seq_lens[1], cp_groups[1];
    void *qkv, *out, *dout, *dqkv;
    float *lse;
    int64_t rng_state[2];
} row_t;

/* Runs the reference on a fresh row: B = 2, L = 70, Hq = 4, Hkv = 2, D = 16. */
static row_t run_row(pattnDtype_t dtype, double dropout, int backward)
{
    row_t r;
    memset(&r, 0, sizeof r);
    r.c = (bench_case_t){dtype, 1, 2, 70, 4, 2, 16, dropout, backward};
    bench_case_params(&r.c, &r.params, r.seq_lens, r.cp_groups);
    size_t e = pattn_dtype_size(dtype);
    r.qkv = malloc((size_t)bench_case_qkv_elems(&r.c) * e);
    r.out = malloc((size_t)bench_case_out_elems(&r.c) * e);
    r.dout = malloc((size_t)bench_case_out_elems(&r.c) * e);
    r.dqkv = malloc((size_t)bench_case_qkv_elems(&r.c) * e);
    r.lse = malloc((size_t)bench_case_lse_elems(&r.c) * sizeof(float));
    cr_assert(r.qkv && r.out && r.dout && r.dqkv && r.lse);
    bench_fill_random(dtype, r.qkv, bench_case_qkv_elems(&r.c), 42);
    bench_fill_dout(&r.c, r.dout, 42);
    pattnGenerator_t gen = {7, 64};
    cr_assert_eq(pattnForward(NULL, &r.params, &gen, r.qkv, r.out, r.lse, r.rng_state, NULL),
                 pattnSuccess, "%s", pattnGetLastError());
    if (backward)
        cr_assert_eq(pattnBackward(NULL, &r.params, r.qkv, r.out, r.lse, r.rng_state, r.dout,
                                   r.dqkv), pattnSuccess, "%s", pattnGetLastError());
    return r;
}

static bench_result_t check(const row_t *r)
{
    bench_result_t res = {.status = pattnSuccess, .checked = -1};
    bench_outputs_t got = {r->qkv, r->out, r->lse, r->rng_state, r->dout,
                           r->c.backward ? r->dqkv : NULL};
    bench_check_row(&r->c, &got, &res);
    cr_assert_eq(res.status, pattnSuccess, "%s", res.message);
    return res;
}

static void free_row(row_t *r)
{
    free(r->qkv);
    free(r->out);
    free(r->dout);
    free(r->dqkv);
    free(r->lse);
}

/* Adds delta to element (row, col) of a (rows, cols) array of dtype t. */
static void bump(pattnDtype_t t, void *a, int64_t cols, int64_t row, int64_t col, float delta)
{
    int64_t i = row * cols + col;
    pattn_store(t, a, i, pattn_load(t, a, i) + delta);
}

Test(bench_check, reference_outputs_check_clean)
{
    const double dropouts[] = {0.0, 0.2};
    for (int k = 0; k < 2; ++k) {
        row_t r = run_row(PATTN_BF16, dropouts[k], 1);
        bench_result_t res = check(&r);
        /* without dropout the first KV group (2 query heads), with it all 4 heads of sample 0 */
        int64_t heads = dropouts[k] > 0 ? 4 : 2, kv = dropouts[k] > 0 ? 2 : 1, L = 70, D = 16;
        cr_assert_eq(res.checked, L * heads * D + heads * L + L * (heads + 2 * kv) * D);
        cr_assert_eq(res.wrong, 0);
        free_row(&r);
    }
}

Test(bench_check, a_wrong_element_in_the_sample_counts_once)
{
    row_t r = run_row(PATTN_FP16, 0.0, 1);
    int64_t D = 16, out_cols = 4 * D, qkv_cols = 8 * D;
    struct {
        void *array;
        pattnDtype_t dtype;
        int64_t cols, row, col;
        const char *what;
    } hits[] = {{r.out, PATTN_FP16, out_cols, 5, 1 * D + 3, "out, sample 0, head 1"},
                {r.lse, PATTN_FP32, 70, 1, 9, "lse, sample 0, head 1"},
                {r.dqkv, PATTN_FP16, qkv_cols, 12, 0 * D + 2, "dQ, head 0"},
                {r.dqkv, PATTN_FP16, qkv_cols, 30, 4 * D + 7, "dK, KV head 0"},
                {r.dqkv, PATTN_FP16, qkv_cols, 69, 6 * D + 1, "dV, KV head 0"}};
    for (size_t i = 0; i < sizeof hits / sizeof hits[0]; ++i) {
        bump(hits[i].dtype, hits[i].array, hits[i].cols, hits[i].row, hits[i].col, 0.5f);
        bench_result_t res = check(&r);
        cr_assert_eq(res.wrong, 1, "%s: %lld wrong", hits[i].what, (long long)res.wrong);
        bump(hits[i].dtype, hits[i].array, hits[i].cols, hits[i].row, hits[i].col, -0.5f);
    }
    /* outside the sample: sample 1 (row 70 + 5), and query head 2 (the second KV group) */
    bump(PATTN_FP16, r.out, out_cols, 75, 0, 0.5f);
    bump(PATTN_FP16, r.out, out_cols, 5, 2 * D, 0.5f);
    cr_assert_eq(check(&r).wrong, 0);
    free_row(&r);
}
