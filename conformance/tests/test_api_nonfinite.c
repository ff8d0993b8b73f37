/*
 * test_api_nonfinite.c: SPEC section 1's non-finite inputs on the reference. A NaN or an
 * infinity in qkv or dout propagates into the outputs that depend on it (never turned into 0 or
 * lse = -inf), in every dtype and through the ring's LSE merge. Where no matrix product mixes
 * it in, rows that do not see it stay bit-identical to a run without it; a product over a tile
 * may also carry it, as 0 x NaN, into entries of the same tile that do not depend on it (the
 * backward's dK, dV and dQ, the forward's P V for a V element), as in FlashAttention, so the
 * tests assert only that the NaN is not lost there.
 *
 * One sample of L = 20 tokens, D = 16, one query head and one KV head, causal, so query row i
 * sees keys 0..i: a poisoned query row or key row j touches exactly rows i >= j.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "dtype.h"
#include "parallel_attn.h"
#include "test_api_util.h"

#define L 20
#define D 16
#define COLS (3 * D)

typedef struct run {
    float qkv[L * COLS], dout[L * D]; /* inputs, fp32 values (stored to the dtype per call) */
    float out[L * D], lse[L], dqkv[L * COLS];
} run_t;

static pattnParams_t params(pattnDtype_t dtype, int64_t *seq_lens, int64_t *groups, int n)
{
    pattnParams_t p = PATTN_PARAMS_INIT;
    p.dtype = dtype;
    p.rows = seq_lens[0];
    p.cols = COLS;
    p.head_dim = D;
    p.group_query_ratio = 1;
    p.num_strategies = 1;
    p.num_pipelines = n;
    p.seq_lens = seq_lens;
    p.cp_groups = groups;
    return p;
}

/* Forward and backward of one rank holding all L tokens; outputs widened back to fp32. */
static void run_single(pattnDtype_t dtype, run_t *r)
{
    int64_t seq_lens[1] = {L}, groups[1] = {0};
    pattnParams_t p = params(dtype, seq_lens, groups, 1);
    uint16_t qkv[L * COLS], dout[L * D], out[L * D], dqkv[L * COLS];
    void *q = dtype == PATTN_FP32 ? (void *)r->qkv : qkv, *d = dtype == PATTN_FP32 ? (void *)r->dout : dout;
    void *o = dtype == PATTN_FP32 ? (void *)r->out : out, *g = dtype == PATTN_FP32 ? (void *)r->dqkv : dqkv;
    for (int i = 0; dtype != PATTN_FP32 && i < L * COLS; ++i)
        pattn_store(dtype, qkv, i, r->qkv[i]);
    for (int i = 0; dtype != PATTN_FP32 && i < L * D; ++i)
        pattn_store(dtype, dout, i, r->dout[i]);
    int64_t rng[2];
    cr_assert_eq(pattnForward(NULL, &p, NULL, q, o, r->lse, rng, NULL), pattnSuccess, "%s",
                 pattnGetLastError());
    cr_assert_eq(pattnBackward(NULL, &p, q, o, r->lse, rng, d, g), pattnSuccess, "%s",
                 pattnGetLastError());
    for (int i = 0; dtype != PATTN_FP32 && i < L * D; ++i)
        r->out[i] = pattn_load(dtype, out, i);
    for (int i = 0; dtype != PATTN_FP32 && i < L * COLS; ++i)
        r->dqkv[i] = pattn_load(dtype, dqkv, i);
}

static void fill(run_t *r)
{
    uint64_t rng = api_rng_fresh();
    api_fill_random(&rng, PATTN_BF16, r->qkv, L * COLS, -1, 1); /* exact in every dtype */
    api_fill_random(&rng, PATTN_BF16, r->dout, L * D, -1, 1);
}

static int row_all_nan(const float *a, int64_t row, int64_t ld, int64_t col0, int64_t n)
{
    for (int64_t x = 0; x < n; ++x)
        if (!isnan(a[row * ld + col0 + x]))
            return 0;
    return 1;
}

static int row_same(const float *a, const float *b, int64_t row, int64_t ld)
{
    return memcmp(a + row * ld, b + row * ld, (size_t)ld * sizeof *a) == 0;
}

/* Rows before `first` equal the clean run; rows from `first` on are NaN in out and lse. */
static void expect_nan_from(const run_t *clean, const run_t *bad, int first, const char *what)
{
    for (int i = 0; i < L; ++i) {
        if (i < first) {
            cr_assert(row_same(clean->out, bad->out, i, D) && clean->lse[i] == bad->lse[i],
                      "%s: row %d does not see it, yet its output changed", what, i);
        } else {
            cr_assert(row_all_nan(bad->out, i, D, 0, D),
                      "%s: out row %d = %g ... is not NaN (row sees it)", what, i, bad->out[i * D]);
            cr_assert(isnan(bad->lse[i]), "%s: lse[%d] = %g, expected NaN", what, i, bad->lse[i]);
        }
    }
}

static void nan_in_query(pattnDtype_t dtype)
{
    static run_t clean, bad;
    fill(&clean);
    run_single(dtype, &clean);
    memcpy(&bad, &clean, sizeof bad);
    bad.qkv[3 * COLS + 5] = NAN; /* Q of row 3 */
    run_single(dtype, &bad);
    for (int i = 0; i < L; ++i)
        if (i == 3) {
            cr_assert(row_all_nan(bad.out, i, D, 0, D) && isnan(bad.lse[i]),
                      "NaN in Q row 3: out %g, lse %g", bad.out[i * D], bad.lse[i]);
            cr_assert(row_all_nan(bad.dqkv, i, COLS, 0, D), "dQ row 3 is not NaN");
        } else {
            cr_assert(row_same(clean.out, bad.out, i, D) && clean.lse[i] == bad.lse[i],
                      "NaN in Q row 3 changed row %d", i);
        }
    /* Keys 0..3 meet query row 3: their dK and dV are NaN. */
    for (int j = 0; j <= 3; ++j)
        cr_assert(row_all_nan(bad.dqkv, j, COLS, D, 2 * D), "dK/dV of key %d is not NaN", j);
}

Test(nonfinite, nan_in_query_fp32) { nan_in_query(PATTN_FP32); }
Test(nonfinite, nan_in_query_bf16) { nan_in_query(PATTN_BF16); }
Test(nonfinite, nan_in_query_fp16) { nan_in_query(PATTN_FP16); }

Test(nonfinite, nan_in_key)
{
    static run_t clean, bad;
    fill(&clean);
    run_single(PATTN_FP32, &clean);
    memcpy(&bad, &clean, sizeof bad);
    bad.qkv[5 * COLS + D + 2] = NAN; /* K of row 5 */
    run_single(PATTN_FP32, &bad);
    expect_nan_from(&clean, &bad, 5, "NaN in K row 5");
}

/* Random inputs with column 7 of every query 0.5: an infinite key in that column gives every
 * query a logit of the same sign. */
static void fill_positive_query_column(run_t *r)
{
    fill(r);
    for (int i = 0; i < L; ++i)
        r->qkv[i * COLS + 7] = 0.5f;
}

/* +inf in K with every query positive in that column: logits +inf, exp(inf - inf) = NaN. */
Test(nonfinite, infinite_key_logit)
{
    static run_t clean, bad;
    fill_positive_query_column(&clean);
    run_single(PATTN_BF16, &clean);
    memcpy(&bad, &clean, sizeof bad);
    bad.qkv[5 * COLS + D + 7] = INFINITY;
    run_single(PATTN_BF16, &bad);
    expect_nan_from(&clean, &bad, 5, "+inf logit from K row 5");
}

/* -inf in K against positive queries: a logit of -inf is a key of weight 0 (IEEE exp), so the
 * rows stay finite, and the output of a row that sees only that key is 0 with lse -inf. */
Test(nonfinite, minus_infinite_key_logit_is_weight_zero)
{
    static run_t clean, bad;
    fill_positive_query_column(&clean);
    memcpy(&bad, &clean, sizeof bad);
    bad.qkv[0 * COLS + D + 7] = -INFINITY;
    run_single(PATTN_FP32, &bad);
    cr_assert(bad.lse[0] == -INFINITY && bad.out[0] == 0.0f, "row 0 sees only key 0: lse %g",
              bad.lse[0]);
    for (int i = 1; i < L; ++i)
        cr_assert(isfinite(bad.lse[i]) && isfinite(bad.out[i * D]), "row %d: lse %g", i,
                  bad.lse[i]);
}

Test(nonfinite, infinity_in_value)
{
    static run_t clean, bad;
    fill(&clean);
    run_single(PATTN_FP16, &clean);
    memcpy(&bad, &clean, sizeof bad);
    bad.qkv[4 * COLS + 2 * D + 3] = INFINITY; /* V of row 4, column 3 */
    run_single(PATTN_FP16, &bad);
    for (int i = 4; i < L; ++i)
        cr_assert(isinf(bad.out[i * D + 3]) && bad.out[i * D + 3] > 0, "row %d column 3: %g", i,
                  bad.out[i * D + 3]);
}

Test(nonfinite, nan_in_dout)
{
    static run_t clean, bad;
    fill(&clean);
    run_single(PATTN_FP32, &clean);
    memcpy(&bad, &clean, sizeof bad);
    bad.dout[6 * D + 1] = NAN;
    run_single(PATTN_FP32, &bad);
    cr_assert(row_all_nan(bad.dqkv, 6, COLS, 0, D), "dQ of row 6 is not NaN");
    for (int j = 0; j <= 6; ++j)
        cr_assert(row_all_nan(bad.dqkv, j, COLS, D, D), "dK of key %d is not NaN", j);
    cr_assert(row_same(clean.out, bad.out, 6, D), "dout must not change the forward");
}

/* A ring of 2 (contiguous): member 0 holds positions 0..9, member 1 positions 10..19. A NaN in
 * member 0's K row 2 reaches member 1's rows through ring step 1 and the LSE merge. */
Test(nonfinite, nan_through_the_ring_merge)
{
    static float qkv[2][10 * COLS], out[2][10 * D], lse[2][10];
    uint64_t rng = api_rng_fresh();
    api_fill_random(&rng, PATTN_FP32, qkv, 2 * 10 * COLS, -1, 1);
    qkv[0][2 * COLS + D] = NAN;
    int64_t seq_lens[2] = {10, 10}, groups[2] = {0, 0};
    pattnParams_t p = params(PATTN_FP32, seq_lens, groups, 2);
    const void *q[2] = {qkv[0], qkv[1]};
    void *o[2] = {out[0], out[1]};
    float *l[2] = {lse[0], lse[1]};
    int64_t rng_states[4];
    cr_assert_eq(pattnForwardEmulated(&p, NULL, q, o, l, rng_states, NULL, NULL), pattnSuccess,
                 "%s", pattnGetLastError());
    for (int k = 0; k < 2; ++k)
        for (int i = 0; i < 10; ++i) {
            int sees = k == 1 || i >= 2;
            cr_assert(isnan(lse[k][i]) == sees && row_all_nan(out[k], i, D, 0, D) == sees,
                      "member %d row %d: lse %g, expected %s", k, i, lse[k][i],
                      sees ? "NaN" : "finite");
        }
}
