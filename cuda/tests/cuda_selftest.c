/*
 * cuda_selftest.c: checks of the CUDA backend that the golden cases and conformance --random
 * do not reach, run on a machine with a GPU (exit 77 = skipped when there is none):
 *   mask      dropout masks read back exactly (Q = 0 and one-hot V make out[i][j] > 0 exactly
 *             when (i, j) is kept), also at global positions shifted like a ring step's, for the
 *             tensor-core and the general kernels, against pattn_dropout_keep; and the sign bits
 *             of return_softmax. Mismatches must be 0.
 *   accum     ACCUMULATE mode: the keys split into two launches merged in fp32 (then finalize),
 *             and one launch with both key runs in one item, against a float64 oracle.
 *   random    random problems (GQA, causal or full, packed with cu_seqlens_q != cu_seqlens_k and
 *             empty sequences, dropout, custom scale, return_softmax) through pattnForward, through
 *             the general kernel and, where pattnForward runs a wgmma kernel (Hopper), through the
 *             mma.sync kernel too (PATTN_CUDA_KERNEL=mma), each against the float64 oracle, and
 *             the wgmma and mma.sync outputs against each other; every output element poisoned
 *             with NaN beforehand must be written.
 *   kernels   mask and ACCUMULATE checks again with PATTN_CUDA_KERNEL=mma, so that on Hopper
 *             the mma.sync kernels of head dims 64 and 128 run them too.
 * Usage: cuda-selftest [--random N] [--seed S]
 */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "fwd_kernels.h"
#include "fwd_rank.h"
#include "philox.h"
#include "work_items.h"
#include "exit_on_cuda_error.h"

#define SKIP 77

static int checks, failures;


#define CHECK_PATTN(call)                                                                          \
    do {                                                                                           \
        pattnResult_t r_ = (call);                                                                 \
        if (r_ != pattnSuccess) {                                                                  \
            fprintf(stderr, "%s:%d: %s: %s: %s\n", __FILE__, __LINE__, #call,                      \
                    pattnGetErrorString(r_), pattnGetLastError());                                 \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of host memory (%zu bytes)\n", n);
        exit(1);
    }
    return p;
}

static uint64_t rng_state;
static uint64_t next_u64(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double uniform(void) { return (double)(next_u64() >> 11) / 9007199254740992.0; }
static int irand(int lo, int hi) { return lo + (int)(next_u64() % (uint64_t)(hi - lo + 1)); }

static void record(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void record(int ok, const char *fmt, ...)
{
    ++checks;
    failures += !ok;
    va_list ap;
    va_start(ap, fmt);
    printf("%s ", ok ? "ok  " : "FAIL");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
}

/* ---------------------------------------------------------------- problems */

typedef struct shape {
    pattnDtype_t dtype;
    int D, r, Hkv, B, L, causal, packing, P, softmax;
    double p_drop, scale;
    int32_t cu_q[9], cu_k[9];
} shape_t;

typedef struct setup {
    pattnParams_t params;
    int64_t seq_len, group;
    pattn_problem_t p;
} setup_t;

static void setup_problem(const shape_t *s, setup_t *st)
{
    pattnParams_t pr = PATTN_PARAMS_INIT;
    st->group = 0;
    pr.dtype = s->dtype;
    pr.head_dim = s->D;
    pr.group_query_ratio = s->r;
    pr.cols = (int64_t)(s->r + 2) * s->Hkv * s->D;
    pr.num_strategies = pr.num_pipelines = 1;
    pr.seq_lens = &st->seq_len;
    pr.cp_groups = &st->group;
    pr.is_causal = s->causal;
    pr.return_softmax = s->softmax;
    pr.p_dropout = s->p_drop;
    pr.softmax_scale = s->scale;
    if (s->packing) {
        st->seq_len = s->cu_q[s->P];
        pr.rows = st->seq_len;
        pr.packing = 1;
        pr.num_seqs = s->P;
        pr.cu_seqlens_q = s->cu_q;
        pr.cu_seqlens_k = s->cu_k;
        for (int u = 0; u < s->P; ++u) {
            pr.max_seqlen_q = fmax(pr.max_seqlen_q, s->cu_q[u + 1] - s->cu_q[u]);
            pr.max_seqlen_k = fmax(pr.max_seqlen_k, s->cu_k[u + 1] - s->cu_k[u]);
        }
    } else {
        st->seq_len = s->L;
        pr.rows = (int64_t)s->B * s->L;
    }
    st->params = pr;
    CHECK_PATTN(pattn_problem_build(&st->params, &st->p));
}

/* Random values exact in the dtype: f (fp32 copy) and bits (what the device gets). */
static void fill_qkv(const pattn_problem_t *p, float *f, void *bits, int64_t n)
{
    for (int64_t i = 0; i < n; ++i) {
        f[i] = pattn_round_to(p->dtype, (float)(2 * uniform() - 1));
        pattn_store(p->dtype, bits, i, f[i]);
    }
}

/* Query rows [q0, q0 + nq) and key rows [k0, k0 + nk) of unit u (n == 1). */
static void unit_rows(const pattn_problem_t *p, int u, int64_t *q0, int64_t *nq, int64_t *k0,
                      int64_t *nk)
{
    if (p->packing) {
        *q0 = p->cu_q[0][u];
        *nq = p->cu_q[0][u + 1] - *q0;
        *k0 = p->cu_k[0][u];
        *nk = p->cu_k[0][u + 1] - *k0;
    } else {
        *q0 = *k0 = u * p->L[0];
        *nq = *nk = p->L[0];
    }
}

/* The float64 oracle of SPEC sections 1-5 for one rank: out, lse and (when sm) the softmax. */
static void oracle(const pattn_problem_t *p, const float *qkv, pattn_rng_t rng, double *out,
                   double *lse, double *sm)
{
    const int64_t D = p->D, C = p->qkv_cols, units = pattn_num_units(p);
    double *s = xmalloc(sizeof(double) * (size_t)(p->sm_nk + 1));
    for (int64_t u = 0; u < units; ++u) {
        int64_t q0, nq, k0, nk;
        unit_rows(p, (int)u, &q0, &nq, &k0, &nk);
        for (int64_t h = 0; h < p->Hq; ++h) {
            const int64_t kh = p->Hq + h / p->r, vh = p->Hq + p->Hkv + h / p->r;
            for (int64_t i = 0; i < nq; ++i) {
                const float *q = qkv + (q0 + i) * C + h * D;
                double m = -INFINITY, l = 0;
                for (int64_t j = 0; j < nk; ++j) {
                    s[j] = -INFINITY;
                    if (p->is_causal && j > i + nk - nq)
                        continue;
                    double dot = 0;
                    for (int64_t d = 0; d < D; ++d)
                        dot += (double)q[d] * qkv[(k0 + j) * C + kh * D + d];
                    s[j] = dot * p->scale;
                    m = fmax(m, s[j]);
                }
                for (int64_t j = 0; j < nk; ++j)
                    l += s[j] == -INFINITY ? 0 : exp(s[j] - m);
                const int64_t t = p->packing ? q0 + i : i;
                lse[pattn_lse_index(p, 0, u, h, t)] = l > 0 ? m + log(l) : -INFINITY;
                double *o = out + (q0 + i) * p->out_cols + h * D;
                for (int64_t d = 0; d < D; ++d)
                    o[d] = 0;
                for (int64_t j = 0; j < nk && l > 0; ++j) {
                    if (s[j] == -INFINITY)
                        continue;
                    const double prob = exp(s[j] - m) / l;
                    const int keep = p->p_dropout == 0 ||
                                     pattn_dropout_keep(rng.seed, rng.offset, u, h, p->Hq, i, j,
                                                        p->keep_threshold);
                    if (sm)
                        sm[((u * p->Hq + h) * p->sm_lq + i) * p->sm_nk + j] = keep ? prob : -prob;
                    if (!keep)
                        continue;
                    const double w = prob / (1 - p->p_dropout);
                    for (int64_t d = 0; d < D; ++d)
                        o[d] += w * qkv[(k0 + j) * C + vh * D + d];
                }
            }
        }
    }
    free(s);
}

/* Max error of got against ref, with |got - ref| <= atol + rtol |ref| per element; NaN and a
 * missing -inf fail. Returns the number of bad elements. */
static int64_t compare(const float *got, const double *ref, int64_t n, double atol, double rtol,
                       double *max_err)
{
    int64_t bad = 0;
    *max_err = 0;
    for (int64_t i = 0; i < n; ++i) {
        if (isinf(ref[i]) || isinf(got[i])) {
            bad += !(isinf(ref[i]) && isinf(got[i]) && (ref[i] < 0) == (got[i] < 0));
            continue;
        }
        const double e = fabs(got[i] - ref[i]);
        if (!(e <= atol + rtol * fabs(ref[i])))
            ++bad;
        if (!(e <= *max_err))
            *max_err = isnan(e) ? INFINITY : e;
    }
    return bad;
}

static double atol_out(pattnDtype_t t) { return t == PATTN_FP32 ? 1e-5 : t == PATTN_FP16 ? 2e-3 : 1.2e-2; }
static double rtol_out(pattnDtype_t t) { return t == PATTN_FP32 ? 1e-5 : t == PATTN_FP16 ? 2e-3 : 1e-2; }
#define ATOL_LSE 1e-4

/* Device copies of a problem's arrays. */
typedef struct arrays {
    int64_t n_qkv, n_out, n_lse, n_sm;
    void *qkv, *out;
    float *lse, *sm;
} arrays_t;

static void arrays_alloc(const pattn_problem_t *p, arrays_t *a)
{
    const size_t es = pattn_dtype_size(p->dtype);
    a->n_qkv = p->rows[0] * p->qkv_cols;
    a->n_out = p->rows[0] * p->out_cols;
    a->n_lse = pattn_lse_elems(p, 0);
    a->n_sm = p->return_softmax ? pattn_num_units(p) * p->Hq * p->sm_lq * p->sm_nk : 0;
    EXIT_ON_CUDA_ERROR(cudaMalloc(&a->qkv, es * (size_t)a->n_qkv + 16));
    EXIT_ON_CUDA_ERROR(cudaMalloc(&a->out, es * (size_t)a->n_out + 16));
    EXIT_ON_CUDA_ERROR(cudaMalloc((void **)&a->lse, sizeof(float) * (size_t)a->n_lse + 16));
    EXIT_ON_CUDA_ERROR(cudaMalloc((void **)&a->sm, sizeof(float) * (size_t)a->n_sm + 16));
}

/* NaN everywhere (0xff bytes), so that an element nothing wrote shows. */
static void arrays_poison(const pattn_problem_t *p, arrays_t *a)
{
    EXIT_ON_CUDA_ERROR(cudaMemset(a->out, 0xff, pattn_dtype_size(p->dtype) * (size_t)a->n_out));
    EXIT_ON_CUDA_ERROR(cudaMemset(a->lse, 0xff, sizeof(float) * (size_t)a->n_lse));
    EXIT_ON_CUDA_ERROR(cudaMemset(a->sm, 0xff, sizeof(float) * (size_t)a->n_sm));
}

static void arrays_free(arrays_t *a)
{
    EXIT_ON_CUDA_ERROR(cudaFree(a->qkv));
    EXIT_ON_CUDA_ERROR(cudaFree(a->out));
    EXIT_ON_CUDA_ERROR(cudaFree(a->lse));
    EXIT_ON_CUDA_ERROR(cudaFree(a->sm));
}

/* out (dtype on the device) as fp32 on the host. */
static float *download_out(const pattn_problem_t *p, const void *dev, int64_t n)
{
    const size_t es = pattn_dtype_size(p->dtype);
    void *bits = xmalloc(es * (size_t)n);
    float *f = xmalloc(sizeof(float) * (size_t)n);
    EXIT_ON_CUDA_ERROR(cudaMemcpy(bits, dev, es * (size_t)n, cudaMemcpyDeviceToHost));
    for (int64_t i = 0; i < n; ++i)
        f[i] = pattn_load(p->dtype, bits, i);
    free(bits);
    return f;
}

static float *download_f32(const float *dev, int64_t n)
{
    float *f = xmalloc(sizeof(float) * (size_t)n);
    EXIT_ON_CUDA_ERROR(cudaMemcpy(f, dev, sizeof(float) * (size_t)n, cudaMemcpyDeviceToHost));
    return f;
}

/* Compares out and lse of one run with the oracle; returns whether both pass. */
static int check_out_lse(const pattn_problem_t *p, const char *label, const void *d_out,
                         const float *d_lse, const double *ref_out, const double *ref_lse,
                         int64_t n_out, int64_t n_lse, double *e_out, double *e_lse)
{
    float *out = download_out(p, d_out, n_out), *lse = download_f32(d_lse, n_lse);
    int64_t bad_o = compare(out, ref_out, n_out, atol_out(p->dtype), rtol_out(p->dtype), e_out);
    int64_t bad_l = compare(lse, ref_lse, n_lse, ATOL_LSE, 0, e_lse);
    if (bad_o || bad_l)
        printf("     %s: %lld bad out elements (max err %.3g), %lld bad lse (max err %.3g)\n",
               label, (long long)bad_o, *e_out, (long long)bad_l, *e_lse);
    free(out);
    free(lse);
    return !bad_o && !bad_l;
}

/* ---------------------------------------------------------------- mask readback */

static void test_mask(pattnDtype_t dtype, int D, int general, double p_drop, int dq, int dk)
{
    shape_t s = {.dtype = dtype, .D = D, .r = 1, .Hkv = 2, .B = 2, .L = D, .causal = 0,
                 .p_drop = p_drop, .scale = -1};
    setup_t st;
    setup_problem(&s, &st);
    const pattn_problem_t *p = &st.p;
    const pattn_rng_t rng = {next_u64(), next_u64() >> 8};
    const pattn_cuda_kernel_t kernel = pattn_cuda_pick_kernel(dtype, D, general);
    pattn_cuda_item_t *items;
    int64_t count;
    CHECK_PATTN(pattn_cuda_build_items(p, 0, 0, kernel.block_rows, PATTN_CUDA_FINAL, &items, &count));
    for (int64_t i = 0; i < count; ++i) { /* the same rows, seen at other global positions */
        items[i].tile_pos += dq;
        items[i].q_pos += dq;
        for (int r = 0; r < items[i].num_runs; ++r)
            items[i].runs[r].pos += dk;
    }
    const int64_t L = D, C = p->qkv_cols, Hq = p->Hq;
    const size_t es = pattn_dtype_size(dtype);
    void *bits = xmalloc(es * (size_t)(p->rows[0] * C));
    for (int64_t row = 0; row < p->rows[0]; ++row)
        for (int64_t c = 0; c < C; ++c) {
            const int64_t head = c / D, d = c % D, j = row % L;
            float v = 0; /* Q = 0: every score is 0 */
            if (head >= Hq && head < Hq + p->Hkv)
                v = pattn_round_to(dtype, (float)(2 * uniform() - 1));
            else if (head >= Hq + p->Hkv)
                v = d == j; /* V one-hot: output column j is key j's probability */
            pattn_store(dtype, bits, row * C + c, v);
        }
    arrays_t a;
    arrays_alloc(p, &a);
    arrays_poison(p, &a);
    EXIT_ON_CUDA_ERROR(cudaMemcpy(a.qkv, bits, es * (size_t)(p->rows[0] * C), cudaMemcpyHostToDevice));
    pattn_cuda_fwd_args_t args;
    pattn_cuda_args_for(p, 0, 0, rng, a.qkv, a.qkv, a.out, a.lse, PATTN_CUDA_FINAL, &args);
    CHECK_PATTN(pattn_cuda_run_items(&kernel, &args, items, count, 0));
    /* return_softmax at the shifted key positions: cols L + dk. */
    const int64_t sm_cols = L + dk, n_sm = p->B * Hq * L * sm_cols;
    float *d_sm;
    EXIT_ON_CUDA_ERROR(cudaMalloc((void **)&d_sm, sizeof(float) * (size_t)n_sm));
    EXIT_ON_CUDA_ERROR(cudaMemset(d_sm, 0, sizeof(float) * (size_t)n_sm));
    CHECK_PATTN(pattn_cuda_softmax_items(&args, items, count, d_sm, L, sm_cols, 0));
    EXIT_ON_CUDA_ERROR(cudaDeviceSynchronize());
    float *out = download_out(p, a.out, a.n_out), *sm = download_f32(d_sm, n_sm);
    const double kept = 1.0 / (L * (1 - p_drop));
    int64_t mask_bad = 0, value_bad = 0, sm_bad = 0, dropped = 0, total = 0;
    for (int64_t b = 0; b < p->B; ++b)
        for (int64_t h = 0; h < Hq; ++h)
            for (int64_t i = 0; i < L; ++i)
                for (int64_t j = 0; j < L; ++j) {
                    const int keep = pattn_dropout_keep(rng.seed, rng.offset, b, h, Hq, i + dq,
                                                        j + dk, p->keep_threshold);
                    const float o = out[(b * L + i) * p->out_cols + h * D + j];
                    const float v = sm[((b * Hq + h) * L + i) * sm_cols + j + dk];
                    ++total;
                    dropped += !keep;
                    mask_bad += (o > 0) != keep;
                    value_bad += keep && !(fabs(o - kept) <= 1e-2 * kept);
                    sm_bad += (signbit(v) == 0) != keep || !(fabs(fabs(v) - 1.0 / L) <= 1e-5 / L);
                }
    record(mask_bad == 0 && value_bad == 0 && sm_bad == 0 && dropped > 0,
           "mask   %s %-8s p=%.2f positions +(%d, %d): %lld of %lld dropped, %lld mask "
           "mismatches, %lld kept-value errors, %lld softmax sign/value errors",
           pattnDtypeName(dtype), kernel.name, p_drop, dq, dk, (long long)dropped,
           (long long)total, (long long)mask_bad, (long long)value_bad, (long long)sm_bad);
    free(out);
    free(sm);
    free(bits);
    free(items);
    EXIT_ON_CUDA_ERROR(cudaFree(d_sm));
    arrays_free(&a);
}

/* ---------------------------------------------------------------- ACCUMULATE */

/* Items of `from` keeping only the keys [k_lo, k_hi) of their single run (first), or both
 * halves as two runs (both). Items whose part the causal mask hides drop that run. */
static int64_t split_items(const pattn_cuda_item_t *from, int64_t n, int k_split, int part,
                           pattn_cuda_mode_t mode, pattn_cuda_item_t *to)
{
    int64_t m = 0;
    for (int64_t i = 0; i < n; ++i) {
        pattn_cuda_item_t it = from[i];
        const pattn_cuda_run_t run = it.runs[0];
        pattn_cuda_run_t halves[2] = {run, run};
        halves[0].len = k_split;
        halves[1].row += k_split;
        halves[1].pos += k_split;
        halves[1].len -= k_split;
        it.num_runs = 0;
        for (int h = 0; h < 2; ++h) {
            if (part != 2 && part != h)
                continue;
            if (halves[h].causal && halves[h].pos > it.q_pos + it.q_len - 1 + halves[h].shift)
                continue;
            it.runs[it.num_runs++] = halves[h];
        }
        if (it.num_runs > 0 || mode == PATTN_CUDA_FINAL)
            to[m++] = it;
    }
    return m;
}

static void test_accumulate(pattnDtype_t dtype, int D, int general)
{
    shape_t s = {.dtype = dtype, .D = D, .r = 2, .Hkv = 2, .B = 2, .L = 300, .causal = 1,
                 .p_drop = 0.1, .scale = -1};
    setup_t st;
    setup_problem(&s, &st);
    const pattn_problem_t *p = &st.p;
    const pattn_rng_t rng = {next_u64(), next_u64() >> 8};
    arrays_t a;
    arrays_alloc(p, &a);
    arrays_poison(p, &a);
    float *f = xmalloc(sizeof(float) * (size_t)a.n_qkv);
    void *bits = xmalloc(pattn_dtype_size(dtype) * (size_t)a.n_qkv);
    fill_qkv(p, f, bits, a.n_qkv);
    EXIT_ON_CUDA_ERROR(cudaMemcpy(a.qkv, bits, pattn_dtype_size(dtype) * (size_t)a.n_qkv,
                          cudaMemcpyHostToDevice));
    double *ref_out = xmalloc(sizeof(double) * (size_t)a.n_out);
    double *ref_lse = xmalloc(sizeof(double) * (size_t)a.n_lse);
    oracle(p, f, rng, ref_out, ref_lse, NULL);

    const pattn_cuda_kernel_t kernel = pattn_cuda_pick_kernel(dtype, D, general);
    pattn_cuda_item_t *items, *part = xmalloc(sizeof(pattn_cuda_item_t) * 4096);
    int64_t count;
    CHECK_PATTN(pattn_cuda_build_items(p, 0, 0, kernel.block_rows, PATTN_CUDA_FINAL, &items, &count));
    const int k_split = 131; /* not a multiple of any tile: both halves start mid-tile */
    float *acc;
    EXIT_ON_CUDA_ERROR(cudaMalloc((void **)&acc, sizeof(float) * (size_t)a.n_out));
    CHECK_PATTN(pattn_cuda_accumulate_init(acc, a.n_out, a.lse, a.n_lse, 0));
    pattn_cuda_fwd_args_t args;
    pattn_cuda_args_for(p, 0, 0, rng, a.qkv, a.qkv, acc, a.lse, PATTN_CUDA_ACCUMULATE, &args);
    for (int half = 1; half >= 0; --half) { /* the later keys first, as a ring might */
        int64_t m = split_items(items, count, k_split, half, PATTN_CUDA_ACCUMULATE, part);
        CHECK_PATTN(pattn_cuda_run_items(&kernel, &args, part, m, 0));
    }
    CHECK_PATTN(pattn_cuda_finalize(dtype, acc, a.out, a.n_out, 0));
    EXIT_ON_CUDA_ERROR(cudaDeviceSynchronize());
    double e_out, e_lse;
    int ok = check_out_lse(p, "two ACCUMULATE launches", a.out, a.lse, ref_out, ref_lse, a.n_out,
                           a.n_lse, &e_out, &e_lse);
    record(ok, "accum  %s %-8s D=%d keys split at %d, two launches merged in fp32: max err out "
               "%.3g, lse %.3g",
           pattnDtypeName(dtype), kernel.name, D, k_split, e_out, e_lse);

    arrays_poison(p, &a);
    pattn_cuda_args_for(p, 0, 0, rng, a.qkv, a.qkv, a.out, a.lse, PATTN_CUDA_FINAL, &args);
    int64_t m = split_items(items, count, k_split, 2, PATTN_CUDA_FINAL, part);
    CHECK_PATTN(pattn_cuda_run_items(&kernel, &args, part, m, 0));
    EXIT_ON_CUDA_ERROR(cudaDeviceSynchronize());
    ok = check_out_lse(p, "two runs per item", a.out, a.lse, ref_out, ref_lse, a.n_out, a.n_lse,
                       &e_out, &e_lse);
    record(ok, "accum  %s %-8s D=%d two key runs in one item (FINAL): max err out %.3g, lse %.3g",
           pattnDtypeName(dtype), kernel.name, D, e_out, e_lse);
    EXIT_ON_CUDA_ERROR(cudaFree(acc));
    free(items);
    free(part);
    free(f);
    free(bits);
    free(ref_out);
    free(ref_lse);
    arrays_free(&a);
}

/* ---------------------------------------------------------------- random problems */

static void random_shape(shape_t *s)
{
    static const pattnDtype_t dtypes[] = {PATTN_FP16, PATTN_BF16, PATTN_FP32};
    memset(s, 0, sizeof *s);
    s->dtype = dtypes[irand(0, 2)];
    const int fast_dim = irand(0, 1); /* head dims of the wgmma kernels half the time */
    s->D = fast_dim ? 64 * irand(1, 2) : 8 * irand(1, 32);
    s->r = irand(1, 4);
    s->Hkv = irand(1, 2);
    s->causal = irand(0, 1);
    s->softmax = irand(0, 3) == 0;
    s->p_drop = irand(0, 2) == 0 ? 0 : (irand(0, 1) ? 0.17 : 0.5);
    s->scale = irand(0, 2) == 0 ? 0.02 + 0.5 * uniform() : -1;
    s->packing = irand(0, 1);
    if (s->packing) {
        s->P = irand(1, 5);
        for (int u = 0; u < s->P; ++u)
            s->cu_q[u + 1] = s->cu_q[u] + (irand(0, 4) == 0 ? 0 : irand(1, fast_dim ? 300 : 150));
        /* cu_seqlens_k ends at the same T: equal, or other cut points (empty pieces too). */
        const int same = irand(0, 1), T = s->cu_q[s->P];
        for (int u = 1; u <= s->P; ++u)
            s->cu_k[u] = same || u == s->P ? s->cu_q[u] : irand(0, T);
        for (int u = 1; u < s->P; ++u) /* sort the inner cut points */
            for (int v = u + 1; v < s->P; ++v)
                if (s->cu_k[v] < s->cu_k[u]) {
                    const int32_t x = s->cu_k[u];
                    s->cu_k[u] = s->cu_k[v];
                    s->cu_k[v] = x;
                }
    } else {
        s->B = irand(1, 3);
        s->L = irand(1, fast_dim ? 600 : 200);
    }
}

/* One random problem through pattnForward (default kernel), the general kernel and, when the
 * default is a wgmma kernel, the mma.sync kernel. */
static void test_random(int index)
{
    shape_t s;
    random_shape(&s);
    setup_t st;
    setup_problem(&s, &st);
    const pattn_problem_t *p = &st.p;
    pattnGenerator_t gen = {next_u64(), next_u64() >> 4};
    const pattn_rng_t rng = {gen.seed, gen.offset};
    arrays_t a;
    arrays_alloc(p, &a);
    float *f = xmalloc(sizeof(float) * (size_t)a.n_qkv);
    void *bits = xmalloc(pattn_dtype_size(s.dtype) * (size_t)a.n_qkv);
    fill_qkv(p, f, bits, a.n_qkv);
    EXIT_ON_CUDA_ERROR(cudaMemcpy(a.qkv, bits, pattn_dtype_size(s.dtype) * (size_t)a.n_qkv,
                          cudaMemcpyHostToDevice));
    double *ref_out = xmalloc(sizeof(double) * (size_t)a.n_out);
    double *ref_lse = xmalloc(sizeof(double) * (size_t)a.n_lse);
    double *ref_sm = xmalloc(sizeof(double) * (size_t)a.n_sm);
    for (int64_t i = 0; i < a.n_sm; ++i)
        ref_sm[i] = 0;
    oracle(p, f, rng, ref_out, ref_lse, s.softmax ? ref_sm : NULL);

    char desc[200];
    snprintf(desc, sizeof desc, "%s D=%d r=%d Hkv=%d %s %s p=%.2f scale=%s%s", pattnDtypeName(s.dtype),
             s.D, s.r, s.Hkv, s.causal ? "causal" : "full",
             s.packing ? "packed" : "batched", s.p_drop, s.scale < 0 ? "default" : "custom",
             s.softmax ? " softmax" : "");
    const pattn_cuda_kernel_t picked = pattn_cuda_pick_kernel(s.dtype, s.D, 0);
    const int has_wgmma = !strncmp(picked.name, "wgmma", 5);
    float *kernel_out[2] = {NULL, NULL}; /* default (wgmma) and mma.sync outputs */
    for (int variant = 0; variant < (s.dtype == PATTN_FP32 ? 1 : has_wgmma ? 3 : 2); ++variant) {
        const int general = variant == 1;
        arrays_poison(p, &a);
        int64_t rng_out[2] = {-1, -1};
        pattnGenerator_t g = gen;
        if (variant == 2) {
            if (setenv("PATTN_CUDA_KERNEL", "mma", 1) != 0) {
                fprintf(stderr, "setenv failed\n");
                exit(1);
            }
            CHECK_PATTN(pattn_cuda_forward_rank(p, rng, a.qkv, a.out, a.lse,
                                                s.softmax ? a.sm : NULL, 0, 0));
            unsetenv("PATTN_CUDA_KERNEL");
        } else if (!general) {
            pattnHandle_t handle;
            CHECK_PATTN(pattnCreate(&handle, PATTN_BACKEND_CUDA));
            CHECK_PATTN(pattnForward(handle, &st.params, &g, a.qkv, a.out, a.lse, rng_out,
                                     s.softmax ? a.sm : NULL));
            CHECK_PATTN(pattnDestroy(handle));
        } else {
            CHECK_PATTN(pattn_cuda_forward_rank(p, rng, a.qkv, a.out, a.lse,
                                                s.softmax ? a.sm : NULL, 0, 1));
        }
        EXIT_ON_CUDA_ERROR(cudaDeviceSynchronize());
        double e_out, e_lse, e_sm = 0;
        int ok = check_out_lse(p, desc, a.out, a.lse, ref_out, ref_lse, a.n_out, a.n_lse, &e_out,
                               &e_lse);
        int64_t sign_bad = 0, sm_bad = 0;
        if (s.softmax) {
            float *sm = download_f32(a.sm, a.n_sm);
            for (int64_t i = 0; i < a.n_sm; ++i) {
                if (ref_sm[i] == 0 && !signbit(ref_sm[i])) { /* masked or padding: +0 */
                    sm_bad += !(sm[i] == 0 && !signbit(sm[i]));
                    continue;
                }
                sign_bad += !signbit(sm[i]) != !signbit(ref_sm[i]); /* signbit: any nonzero */
                const double e = fabs(fabs(sm[i]) - fabs(ref_sm[i]));
                sm_bad += !(e <= 1e-5 + 1e-4 * fabs(ref_sm[i]));
                e_sm = fmax(e_sm, e);
            }
            free(sm);
        }
        if (variant == 0) {
            const uint64_t advance = p->p_dropout > 0 ? (uint64_t)(pattn_num_units(p) * p->Hq * 32) : 0;
            ok &= rng_out[0] == (int64_t)gen.seed && rng_out[1] == (int64_t)gen.offset &&
                  g.seed == gen.seed && g.offset == gen.offset + advance;
        }
        if (has_wgmma && variant != 1)
            kernel_out[variant / 2] = download_out(p, a.out, a.n_out);
        record(ok && !sign_bad && !sm_bad,
               "random %3d %-10s %s: max err out %.3g lse %.3g", index,
               variant == 0 ? picked.name : general ? "general" : "mma", desc, e_out, e_lse);
        if (s.softmax)
            printf("     softmax: max err %.3g, %lld sign mismatches, %lld bad entries\n", e_sm,
                   (long long)sign_bad, (long long)sm_bad);
    }
    if (kernel_out[0] && kernel_out[1]) { /* wgmma against mma.sync: both near the oracle */
        double diff = 0;
        int64_t bad = 0;
        for (int64_t i = 0; i < a.n_out; ++i) {
            const double e = fabs((double)kernel_out[0][i] - kernel_out[1][i]);
            bad += !(e <= 2 * (atol_out(s.dtype) + rtol_out(s.dtype) * fabs(ref_out[i])));
            diff = fmax(diff, isnan(e) ? INFINITY : e);
        }
        record(!bad, "random %3d %s vs mma: max |difference| %.3g, %lld elements beyond twice "
                     "the tolerance",
               index, picked.name, diff, (long long)bad);
    }
    free(kernel_out[0]);
    free(kernel_out[1]);
    free(f);
    free(bits);
    free(ref_out);
    free(ref_lse);
    free(ref_sm);
    arrays_free(&a);
}

/* Mask and ACCUMULATE checks of head dims 64 and 128 with PATTN_CUDA_KERNEL = name. */
static void test_forced_kernel(const char *name)
{
    if (setenv("PATTN_CUDA_KERNEL", name, 1) != 0) {
        fprintf(stderr, "setenv failed\n");
        exit(1);
    }
    test_mask(PATTN_FP16, 64, 0, 0.17, 16, 5);
    test_mask(PATTN_BF16, 128, 0, 0.5, 48, 77);
    test_accumulate(PATTN_FP16, 64, 0);
    test_accumulate(PATTN_BF16, 128, 0);
    unsetenv("PATTN_CUDA_KERNEL");
}

int main(int argc, char **argv)
{
    int random_count = 40;
    uint64_t seed = 20240601;
    for (int i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--random") && i + 1 < argc)
            random_count = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: cuda-selftest [--random N] [--seed S]\n");
            return 2;
        }
    }
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
        printf("cuda-selftest: no CUDA device: skipped\n");
        return SKIP;
    }
    rng_state = seed;
    printf("cuda-selftest: seed %llu\n", (unsigned long long)seed);
    static const int dims[] = {64, 128, 256};
    for (int i = 0; i < 3; ++i) {
        test_mask(PATTN_FP16, dims[i], 0, 0.17, 0, 0);
        test_mask(PATTN_BF16, dims[i], 0, 0.5, 48, 77);
    }
    test_mask(PATTN_FP16, 40, 0, 0.17, 16, 5);
    test_mask(PATTN_FP32, 64, 0, 0.17, 0, 0);
    test_mask(PATTN_FP32, 96, 0, 0.5, 32, 45);
    test_mask(PATTN_BF16, 64, 1, 0.17, 16, 33);
    test_accumulate(PATTN_BF16, 128, 0);
    test_accumulate(PATTN_FP16, 64, 0);
    test_accumulate(PATTN_FP16, 72, 0);
    test_accumulate(PATTN_FP32, 40, 0);
    const pattn_cuda_kernel_t k64 = pattn_cuda_pick_kernel(PATTN_FP16, 64, 0);
    if (!strncmp(k64.name, "wgmma", 5)) {
        test_forced_kernel("mma");
    }
    for (int i = 0; i < random_count; ++i)
        test_random(i);
    printf("cuda-selftest: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
