/*
 * cuda_selftest.c: checks of the CUDA backend beyond the golden cases, on a machine with a GPU
 * (exit 77 = skipped when there is none). Each kernel is validated against its CPU twin, the
 * reference backend in the same process, with conformance's tolerances (tolerance.c):
 *   kernels  every kernel family the registry holds (PATTN_CUDA_KERNEL = tma, wgmma, mma, general),
 *            on random problems whose lengths span several of the kernels' tiles (GQA, causal or
 *            full, packed with cu_seqlens_q != cu_seqlens_k and rows that see no key, dropout,
 *            custom scale, return_softmax): the forward's out, lse and softmax, and the backward
 *            pass by pass: D = rowsum(dO O), then the dQ, dK and dV columns of dqkv, from the
 *            same out and lse as the reference's. Outputs are poisoned with NaN beforehand, so
 *            an element a kernel forgot to write fails; and each restricted entry (no dropout,
 *            causal only from a query length) on such problems that it runs, causal ones
 *            included.
 *   masks    dropout masks read back exactly through each pass, at a ring member's shifted
 *            global positions (member 1 of a 2-member ring, step 1, through the step API): the
 *            forward (Q = 0, one-hot V: out[i][j] > 0 iff kept), the dK/dV pass (one-hot dO:
 *            dV[j][i] > 0 iff kept) and the dQ pass (one-hot K and V: dQ[i][j] > 0 iff kept),
 *            against pattn_dropout_keep.
 *   rerun    backwards repeated in the deterministic mode (four shapes): every dqkv bit identical.
 * Usage: cuda-selftest [--random N] [--seed S] [--reruns N]
 */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "exit_on_cuda_error.h"
#include "philox.h"
#include "selftest_util.h"
#include "step.h"
#include "tolerance.h"

#define CHECK_PATTN(call)                                                                          \
    do {                                                                                           \
        pattnResult_t r_ = (call);                                                                 \
        if (r_ != pattnSuccess) {                                                                  \
            fprintf(stderr, "%s:%d: %s: %s: %s\n", __FILE__, __LINE__, #call,                      \
                    pattnGetErrorString(r_), pattnGetLastError());                                 \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static int irand(int lo, int hi) { return lo + (int)(next_u64() % (uint64_t)(hi - lo + 1)); }

static void use_family(const char *family) { setenv("PATTN_CUDA_KERNEL", family, 1); }

/* ---------------------------------------------------------------- problems */

typedef struct problem {
    pattnParams_t params;
    int64_t seq_lens[2], cp_groups[2];
    int32_t cu_q[2 * 9], cu_k[2 * 9];
    pattn_problem_t p;
    char desc[200];
} problem_t;

static void problem_build(problem_t *pb)
{
    CHECK_PATTN(pattn_problem_build(&pb->params, &pb->p));
}

/* pb zeroed, and the params of a problem of dtype and head dim D with r query heads per KV
 * head and hkv KV heads, one strategy of `pipelines` pipelines, seq_lens and cp_groups in pb. */
static pattnParams_t problem_params(problem_t *pb, pattnDtype_t dtype, int D, int r, int hkv,
                                    int pipelines)
{
    memset(pb, 0, sizeof *pb);
    pattnParams_t pr = PATTN_PARAMS_INIT;
    pr.dtype = dtype;
    pr.head_dim = D;
    pr.group_query_ratio = r;
    pr.cols = (int64_t)(r + 2) * hkv * D;
    pr.num_strategies = 1;
    pr.num_pipelines = pipelines;
    pr.seq_lens = pb->seq_lens;
    pr.cp_groups = pb->cp_groups;
    return pr;
}

/* A random single-rank problem of dtype whose lengths span several tiles of the kernels; plain:
 * without dropout, and full unless causal_lq > 0. causal_lq > 0: causal, and its longest query
 * piece causal_lq to causal_lq + 300 long, as one sample or as one of 2-3 packed sequences
 * beside short ones, its keys as many or not (what a restricted registry entry runs). */
static void random_problem(problem_t *pb, pattnDtype_t dtype, int D, int plain, int causal_lq)
{
    const int r = irand(1, 3), hkv = irand(1, 2);
    pattnParams_t pr = problem_params(pb, dtype, D, r, hkv, 1);
    pr.is_causal = causal_lq > 0 || (!plain && irand(0, 1));
    pr.return_softmax = irand(0, 3) == 0;
    pr.p_dropout = irand(0, 1) || plain ? 0.0 : 0.05 * irand(1, 8);
    pr.softmax_scale = irand(0, 1) ? -1.0 : 0.03 + 0.2 * uniform();
    pr.deterministic = irand(0, 1); /* 0: the GPU may run its dQ-atomics backward */
    const int packed = irand(0, 1);
    if (causal_lq > 0 && !packed) {
        const int L = causal_lq + irand(0, 300);
        pb->seq_lens[0] = pr.rows = L;
        snprintf(pb->desc, sizeof pb->desc, "B=1 L=%d", L);
    } else if (packed) {
        const int P = causal_lq > 0 ? irand(2, 3) : irand(1, 4);
        int lq[4], lk[4];
        for (int u = 0; u < P; ++u) {
            lq[u] = irand(0, 4) == 0 ? 0 : irand(1, 300);
            lk[u] = irand(0, 2) == 0 ? lq[u] : irand(0, 300);
        }
        if (causal_lq > 0) {
            const int u = irand(0, P - 1);
            lq[u] = causal_lq + irand(0, 300);
            lk[u] = irand(0, 1) ? lq[u] : irand(causal_lq / 2, causal_lq + 300);
        }
        pb->cu_q[0] = pb->cu_k[0] = 0;
        for (int u = 0; u < P; ++u) {
            pb->cu_q[u + 1] = pb->cu_q[u] + lq[u];
            pb->cu_k[u + 1] = pb->cu_k[u] + lk[u];
        }
        /* Both cumulative rows end at the token count: the last sequence takes the rest. */
        const int32_t T = pb->cu_q[P] > pb->cu_k[P] ? pb->cu_q[P] : pb->cu_k[P];
        pb->cu_q[P] = pb->cu_k[P] = T > 0 ? T : 1;
        pr.packing = 1;
        pr.num_seqs = P;
        pr.cu_seqlens_q = pb->cu_q;
        pr.cu_seqlens_k = pb->cu_k;
        pb->seq_lens[0] = pr.rows = pb->cu_q[P];
        for (int u = 0; u < P; ++u) {
            pr.max_seqlen_q = fmax(pr.max_seqlen_q, pb->cu_q[u + 1] - pb->cu_q[u]);
            pr.max_seqlen_k = fmax(pr.max_seqlen_k, pb->cu_k[u + 1] - pb->cu_k[u]);
        }
        snprintf(pb->desc, sizeof pb->desc, "packed P=%d T=%lld", P, (long long)pr.rows);
    } else {
        const int B = irand(1, 2), L = irand(1, 600);
        pb->seq_lens[0] = L;
        pr.rows = (int64_t)B * L;
        snprintf(pb->desc, sizeof pb->desc, "B=%d L=%d", B, L);
    }
    pb->params = pr;
    problem_build(pb);
    size_t n = strlen(pb->desc);
    snprintf(pb->desc + n, sizeof pb->desc - n, " %s D=%d r=%lld Hkv=%d %s p=%.2f%s%s",
             pattnDtypeName(dtype), D, (long long)pr.group_query_ratio, hkv,
             pr.is_causal ? "causal" : "full", pr.p_dropout, pr.return_softmax ? " softmax" : "",
             pr.deterministic ? "" : " nondeterministic");
}

/* ---------------------------------------------------------------- arrays */

/* A host array of n elements of dtype t with its device copy. */
typedef struct buf {
    pattnDtype_t t;
    int64_t n;
    void *host, *dev;
} buf_t;

static buf_t buf_new(pattnDtype_t t, int64_t n)
{
    buf_t b = {t, n, xcalloc(pattn_dtype_size(t) * (size_t)n), NULL};
    EXIT_ON_CUDA_ERROR(cudaMalloc(&b.dev, pattn_dtype_size(t) * (size_t)n + 16));
    return b;
}
static size_t buf_bytes(const buf_t *b) { return pattn_dtype_size(b->t) * (size_t)b->n; }
static void buf_upload(buf_t *b)
{
    EXIT_ON_CUDA_ERROR(cudaMemcpy(b->dev, b->host, buf_bytes(b), cudaMemcpyHostToDevice));
}
static void buf_poison(buf_t *b) /* 0xff bytes: NaN in every dtype */
{
    EXIT_ON_CUDA_ERROR(cudaMemset(b->dev, 0xff, buf_bytes(b)));
}
/* The device copy, widened to fp32 (the host copy is kept). */
static float *buf_download(const buf_t *b)
{
    void *bits = xcalloc(buf_bytes(b));
    float *f = xcalloc(sizeof(float) * (size_t)b->n);
    EXIT_ON_CUDA_ERROR(cudaDeviceSynchronize());
    EXIT_ON_CUDA_ERROR(cudaMemcpy(bits, b->dev, buf_bytes(b), cudaMemcpyDeviceToHost));
    for (int64_t i = 0; i < b->n; ++i)
        f[i] = pattn_load(b->t, bits, i);
    free(bits);
    return f;
}
static void buf_free(buf_t *b)
{
    free(b->host);
    EXIT_ON_CUDA_ERROR(cudaFree(b->dev));
}
static void buf_random(buf_t *b, double lo, double hi)
{
    for (int64_t i = 0; i < b->n; ++i)
        pattn_store(b->t, b->host, i, (float)(lo + (hi - lo) * uniform()));
}

/* Elements of got (fp32) against ref (host array of dtype t), columns [c0, c1) of rows of
 * `cols`: |got - ref| <= atol + rtol |ref|; -inf must match; NaN fails. Returns bad elements. */
static int64_t compare(const float *got, const buf_t *ref, int64_t cols, int64_t c0, int64_t c1,
                       double atol, double rtol, double *max_err)
{
    int64_t bad = 0;
    *max_err = 0;
    for (int64_t i = 0; i < ref->n; ++i) {
        const int64_t c = i % cols;
        if (c < c0 || c >= c1)
            continue;
        const double r = pattn_load(ref->t, ref->host, i), g = got[i];
        if (isinf(r) || isinf(g)) {
            bad += !(isinf(r) && isinf(g) && (r < 0) == (g < 0));
            continue;
        }
        const double e = fabs(g - r);
        bad += !(e <= atol + rtol * fabs(r));
        if (!(e <= *max_err))
            *max_err = isnan(e) ? INFINITY : e;
    }
    return bad;
}

/* ---------------------------------------------------------------- kernels vs the reference */

typedef struct run_arrays {
    buf_t qkv, out, lse, sm, dout, dqkv;
    int64_t rng_state[2];
} run_arrays_t;

static run_arrays_t arrays_new(const pattn_problem_t *p)
{
    const int64_t rows = p->rows[0];
    run_arrays_t a;
    a.qkv = buf_new(p->dtype, rows * p->qkv_cols);
    a.out = buf_new(p->dtype, rows * p->out_cols);
    a.lse = buf_new(PATTN_FP32, pattn_lse_elems(p, 0));
    a.sm = buf_new(PATTN_FP32, p->return_softmax ? pattn_softmax_elems(p, 0) : 1);
    a.dout = buf_new(p->dtype, rows * p->out_cols);
    a.dqkv = buf_new(p->dtype, rows * p->qkv_cols);
    return a;
}

static void arrays_free(run_arrays_t *a)
{
    buf_free(&a->qkv);
    buf_free(&a->out);
    buf_free(&a->lse);
    buf_free(&a->sm);
    buf_free(&a->dout);
    buf_free(&a->dqkv);
}

static int check_tensor(const char *what, const char *desc, const float *got, const buf_t *ref,
                        int64_t cols, int64_t c0, int64_t c1, double atol, double rtol)
{
    double err;
    const int64_t bad = compare(got, ref, cols, c0, c1, atol, rtol, &err);
    if (bad)
        record(0, "%-8s %s: %lld bad elements, max err %.3g", what, desc, (long long)bad, err);
    return bad == 0;
}

/* rowsum(dO O) of member 0 on the host, in double, against the device's pattn_cuda_dsum. */
static int check_dsum(const pattn_problem_t *p, const run_arrays_t *a, const char *desc)
{
    float *dsum;
    const int64_t n = pattn_lse_elems(p, 0);
    EXIT_ON_CUDA_ERROR(cudaMalloc((void **)&dsum, sizeof(float) * (size_t)n + 16));
    CHECK_PATTN(pattn_cuda_dsum(p, 0, a->out.dev, a->dout.dev, dsum, NULL));
    float *got = xcalloc(sizeof(float) * (size_t)n);
    EXIT_ON_CUDA_ERROR(cudaDeviceSynchronize());
    EXIT_ON_CUDA_ERROR(cudaMemcpy(got, dsum, sizeof(float) * (size_t)n, cudaMemcpyDeviceToHost));
    int64_t bad = 0;
    const int64_t L = pattn_sample_rows(p, 0);
    for (int64_t row = 0; row < p->rows[0]; ++row)
        for (int64_t h = 0; h < p->Hq; ++h) {
            double want = 0, mag = 0;
            for (int64_t d = 0; d < p->D; ++d) {
                const int64_t i = row * p->out_cols + h * p->D + d;
                const double x = pattn_load(p->dtype, a->out.host, i) *
                                 (double)pattn_load(p->dtype, a->dout.host, i);
                want += x;
                mag += fabs(x);
            }
            const float g = got[pattn_lse_index(p, 0, p->packing ? 0 : row / L, h, row % L)];
            bad += !(fabs(g - want) <= 1e-5 * (mag + 1));
        }
    if (bad)
        record(0, "dsum     %s: %lld bad rows", desc, (long long)bad);
    free(got);
    EXIT_ON_CUDA_ERROR(cudaFree(dsum));
    return bad == 0;
}

/* One random problem on one family: forward, then the backward pass by pass. */
static int kernels_case(const problem_t *pb, const char *family)
{
    const pattn_problem_t *p = &pb->p;
    const conf_tolerance_t tol = tolerance_default(p->dtype, p->p_dropout);
    run_arrays_t ref = arrays_new(p), dev = arrays_new(p);
    buf_random(&ref.qkv, -2, 2);
    buf_random(&ref.dout, -1, 1);
    memcpy(dev.qkv.host, ref.qkv.host, buf_bytes(&ref.qkv));
    memcpy(dev.dout.host, ref.dout.host, buf_bytes(&ref.dout));
    buf_upload(&dev.qkv);
    buf_upload(&dev.dout);
    const pattnGenerator_t gen0 = {next_u64(), next_u64() >> 20};
    pattnGenerator_t g_ref = gen0, g_dev = gen0;
    pattnHandle_t href, hdev;
    CHECK_PATTN(pattnCreate(&href, PATTN_BACKEND_REFERENCE));
    CHECK_PATTN(pattnCreate(&hdev, PATTN_BACKEND_CUDA));
    float *sm_ref = p->return_softmax ? ref.sm.host : NULL;
    CHECK_PATTN(pattnForward(href, &pb->params, &g_ref, ref.qkv.host, ref.out.host, ref.lse.host,
                             ref.rng_state, sm_ref));
    buf_poison(&dev.out);
    buf_poison(&dev.lse);
    buf_poison(&dev.sm);
    use_family(family);
    CHECK_PATTN(pattnForward(hdev, &pb->params, &g_dev, dev.qkv.dev, dev.out.dev, dev.lse.dev,
                             dev.rng_state, p->return_softmax ? dev.sm.dev : NULL));
    int ok = g_dev.offset == g_ref.offset && dev.rng_state[1] == ref.rng_state[1];
    float *out = buf_download(&dev.out), *lse = buf_download(&dev.lse);
    ok &= check_tensor("out", pb->desc, out, &ref.out, 1, 0, 1, tol.atol_out, tol.rtol_out);
    ok &= check_tensor("lse", pb->desc, lse, &ref.lse, 1, 0, 1, tol.atol_lse, 0);
    if (p->return_softmax) {
        float *sm = buf_download(&dev.sm);
        ok &= check_tensor("softmax", pb->desc, sm, &ref.sm, 1, 0, 1, CONF_SOFTMAX_ATOL,
                           tol.rtol_out);
        free(sm);
    }
    /* The backward from the reference's out and lse, so that each pass meets the same inputs. */
    CHECK_PATTN(pattnBackward(href, &pb->params, ref.qkv.host, ref.out.host, ref.lse.host,
                              ref.rng_state, ref.dout.host, ref.dqkv.host));
    memcpy(dev.out.host, ref.out.host, buf_bytes(&ref.out));
    memcpy(dev.lse.host, ref.lse.host, buf_bytes(&ref.lse));
    buf_upload(&dev.out);
    buf_upload(&dev.lse);
    ok &= check_dsum(p, &dev, pb->desc);
    buf_poison(&dev.dqkv);
    CHECK_PATTN(pattnBackward(hdev, &pb->params, dev.qkv.dev, dev.out.dev, dev.lse.dev,
                              ref.rng_state, dev.dout.dev, dev.dqkv.dev));
    float *dqkv = buf_download(&dev.dqkv);
    const int64_t C = p->qkv_cols, qc = p->Hq * p->D, kc = qc + p->Hkv * p->D;
    ok &= check_tensor("dQ", pb->desc, dqkv, &ref.dqkv, C, 0, qc, tol.atol_dqkv, tol.rtol_dqkv);
    ok &= check_tensor("dK", pb->desc, dqkv, &ref.dqkv, C, qc, kc, tol.atol_dqkv, tol.rtol_dqkv);
    ok &= check_tensor("dV", pb->desc, dqkv, &ref.dqkv, C, kc, C, tol.atol_dqkv, tol.rtol_dqkv);
    free(out);
    free(lse);
    free(dqkv);
    pattnDestroy(href);
    pattnDestroy(hdev);
    arrays_free(&ref);
    arrays_free(&dev);
    return ok;
}

static void test_kernels(int n)
{
    const char *families[] = {"tma", "wgmma", "mma", "general"};
    for (int f = 0; f < 4; ++f) {
        int passed = 0;
        for (int i = 0; i < n; ++i) {
            problem_t pb;
            const int general = f == 3, hopper = f <= 1;
            const pattnDtype_t dtype =
                general && irand(0, 2) == 0 ? PATTN_FP32 : irand(0, 1) ? PATTN_BF16 : PATTN_FP16;
            /* half at the Hopper kernels' head dims: 64 to 256 (tma), 64 and 128 (wgmma) */
            const int D = hopper && irand(0, 1) ? 64 * irand(1, f == 0 ? 4 : 2) : 8 * irand(1, 32);
            random_problem(&pb, dtype, D, 0, 0);
            passed += kernels_case(&pb, families[f]);
        }
        record(passed == n, "kernels  %s: %d of %d random problems pass (forward, dsum, dQ, dK, dV)",
               families[f], passed, n);
    }
    unsetenv("PATTN_CUDA_KERNEL");
}

/* Whether the pick runs kernel k on a causal bf16 problem of one sample of L queries and keys. */
static int picked_for_causal(const pattn_cuda_kernel_t *k, int L)
{
    problem_t pb;
    pattnParams_t pr = problem_params(&pb, PATTN_BF16, k->head_dim, 1, 1, 1);
    pb.seq_lens[0] = pr.rows = L;
    pr.is_causal = 1;
    pb.params = pr;
    problem_build(&pb);
    const pattn_cuda_kernel_t *picked;
    CHECK_PATTN(pattn_cuda_pick_forward(&pb.p, 1, &picked));
    return picked == k;
}

/* Each restricted forward entry (few of test_kernels' draws are dropout-free problems at its
 * head dim, none causal and long): n random problems at its head dim without dropout, every
 * other one causal from the entry's least causal query length; each must run on it and pass.
 * And the length itself: a causal problem one query shorter must not run on it. */
static void test_restricted_entries(int n)
{
    int count;
    const pattn_cuda_kernel_t *table = pattn_cuda_kernels(&count);
    use_family("tma");
    for (int e = 0; e < count; ++e) {
        const pattn_cuda_kernel_t *k = &table[e];
        if (k->pass != PATTN_CUDA_PASS_FWD || (!k->no_dropout && !k->causal_min_lq))
            continue;
        int passed = 0, ran = 0;
        for (int i = 0; i < n; ++i) {
            problem_t pb;
            const int causal_lq = i % 2 ? (k->causal_min_lq > 0 ? k->causal_min_lq : 1) : 0;
            random_problem(&pb, irand(0, 1) ? PATTN_BF16 : PATTN_FP16, k->head_dim, 1, causal_lq);
            const pattn_cuda_kernel_t *picked;
            CHECK_PATTN(pattn_cuda_pick_forward(&pb.p, 1, &picked));
            ran += picked == k;
            passed += kernels_case(&pb, "tma");
        }
        record(passed == n && ran == n,
               "kernels  %s: %d of %d problems it is for pass (half causal), %d ran on it",
               k->name, passed, n, ran);
        if (k->causal_min_lq > 1)
            record(picked_for_causal(k, k->causal_min_lq) &&
                       !picked_for_causal(k, k->causal_min_lq - 1),
                   "kernels  %s: picked for causal problems of %d queries, not of %d", k->name,
                   k->causal_min_lq, k->causal_min_lq - 1);
    }
    unsetenv("PATTN_CUDA_KERNEL");
}

/* ---------------------------------------------------------------- dropout masks */

/* Member 1 of a 2-member ring (B = 2, Hkv = 2, r = 2, full mask, L = D per member), so that its
 * queries sit at global positions L..2L-1 and, at step 1, it holds member 0's keys 0..L-1. */
static void ring_problem(problem_t *pb, pattnDtype_t dtype, int D, double p_drop)
{
    pattnParams_t pr = problem_params(pb, dtype, D, 2, 2, 2);
    pb->seq_lens[0] = pb->seq_lens[1] = D;
    pr.pipeline = 1;
    pr.rows = 2 * (int64_t)D;
    pr.is_causal = 0;
    pr.p_dropout = p_drop;
    pb->params = pr;
    problem_build(pb);
}

/* Counts elements of member 1's (query row, key) pairs at step 1 whose readback `v` (> 0 iff
 * kept) disagrees with pattn_dropout_keep. at(b, h, i, j) gives the readback of local query i
 * and key j of sample b, query head h. */
typedef double (*readback_fn)(const void *ctx, int64_t b, int64_t h, int64_t i, int64_t j);
static int64_t mask_mismatches(const pattn_problem_t *p, pattn_rng_t rng, readback_fn at,
                               const void *ctx)
{
    const int64_t L = p->L[0];
    int64_t bad = 0;
    for (int64_t b = 0; b < p->B; ++b)
        for (int64_t h = 0; h < p->Hq; ++h)
            for (int64_t i = 0; i < L; ++i)
                for (int64_t j = 0; j < L; ++j) {
                    const int keep = pattn_dropout_keep(rng.seed, rng.offset, b, h, p->Hq, L + i,
                                                        j, p->keep_threshold);
                    bad += keep != (at(ctx, b, h, i, j) > 0);
                }
    return bad;
}

/* A readback laid out like out or dQ: element j of head h of local row i of sample b. */
typedef struct readback {
    const pattn_problem_t *p;
    const float *x; /* fp32 download */
    int64_t stride;
} readback_t;

static double read_at(const void *ctx, int64_t b, int64_t h, int64_t i, int64_t j)
{
    const readback_t *r = ctx;
    return r->x[(b * r->p->L[0] + i) * r->stride + h * r->p->D + j];
}

/* Sets row-major one-hot rows: element (row t, head x, column d) = (d == t % L). */
static void one_hot(buf_t *b, int64_t rows, int64_t stride, int64_t col0, int64_t heads,
                    int64_t D, int64_t L)
{
    for (int64_t t = 0; t < rows; ++t)
        for (int64_t x = 0; x < heads; ++x)
            for (int64_t d = 0; d < D; ++d)
                pattn_store(b->t, b->host, t * stride + col0 + x * D + d, d == t % L ? 1.f : 0.f);
}

static void fill(buf_t *b, float v)
{
    for (int64_t i = 0; i < b->n; ++i)
        pattn_store(b->t, b->host, i, v);
}

static void test_masks(pattnDtype_t dtype, int D, const char *family)
{
    problem_t pb;
    ring_problem(&pb, dtype, D, 0.3);
    const pattn_problem_t *p = &pb.p;
    const pattn_rng_t rng = {next_u64(), next_u64() >> 20};
    const int64_t rows = p->rows[1], C = p->qkv_cols, L = D;
    use_family(family);
    /* qkv: Q = 0, K one-hot, V one-hot (column = key index), on the member's own rows. */
    buf_t qkv = buf_new(dtype, rows * C), out = buf_new(dtype, rows * p->out_cols);
    buf_t lse = buf_new(PATTN_FP32, pattn_lse_elems(p, 1)), dsum = buf_new(PATTN_FP32, lse.n);
    buf_t dout = buf_new(dtype, rows * p->out_cols), dq = buf_new(PATTN_FP32, rows * p->out_cols);
    buf_t dkv = buf_new(PATTN_FP32, rows * 2 * p->Hkv * D);
    fill(&qkv, 0.f);
    one_hot(&qkv, rows, C, p->Hq * D, 2 * p->Hkv, D, L);
    buf_upload(&qkv);
    const pattn_cuda_kv_t kv = pattn_cuda_kv_in_qkv(p, 0, qkv.dev); /* member 0's block */
    const pattn_cuda_kernel_t *kf, *kdkdv, *kdq;
    CHECK_PATTN(pattn_cuda_pick_forward(p, 1, &kf));
    CHECK_PATTN(pattn_cuda_pick_backward(p, 1, &kdkdv, &kdq));
    pattn_cuda_plan_t pf, pdkdv, pdq;
    memset(&pdq, 0, sizeof pdq);
    CHECK_PATTN(pattn_cuda_plan_build(p, 1, 2, kf, 0, NULL, &pf));
    CHECK_PATTN(pattn_cuda_plan_build(p, 1, 2, kdkdv, 0, NULL, &pdkdv));
    if (kdq)
        CHECK_PATTN(pattn_cuda_plan_build(p, 1, 2, kdq, 0, NULL, &pdq));
    /* the deterministic fused dQ's counters (int32, as many fp32 slots) */
    buf_t counters = buf_new(PATTN_FP32, (int64_t)(pattn_cuda_dq_counter_bytes(p, 1, kdkdv) / 4) + 1);

    /* Forward: P = 1/L, out[i][h D + j] = Z s / L. */
    buf_poison(&out);
    CHECK_PATTN(pattn_cuda_fwd_step(p, 1, 1, rng, &pf, qkv.dev, &kv, out.dev, (float *)lse.dev,
                                    PATTN_CUDA_FINAL, NULL));
    float *x = buf_download(&out);
    readback_t rb = {p, x, p->out_cols};
    int64_t bad = mask_mismatches(p, rng, read_at, &rb);
    record(bad == 0, "masks    %s %s d%d forward (%s): %lld mismatches", family,
           pattnDtypeName(dtype), D, kf->name, (long long)bad);
    free(x);

    /* Backward with lse = log L (P = 1/L) and D = 0 given. dK/dV pass, one query head of each KV
     * group at a time: its dO row i one-hot at column i, the other heads' dO 0, so that
     * dV[j][g D + i] = Z s / L of that head: > 0 iff kept. */
    for (int64_t i = 0; i < lse.n; ++i)
        ((float *)lse.host)[i] = logf((float)L), ((float *)dsum.host)[i] = 0.f;
    buf_upload(&lse);
    buf_upload(&dsum);
    int64_t bad_dv = 0, bad_dq = 0;
    for (int64_t head = 0; head < p->r; ++head) {
        fill(&dout, 0.f);
        for (int64_t t = 0; t < rows; ++t)
            for (int64_t g = 0; g < p->Hkv; ++g)
                pattn_store(dtype, dout.host, t * p->out_cols + (g * p->r + head) * D + t % L, 1.f);
        buf_upload(&dout);
        EXIT_ON_CUDA_ERROR(cudaMemset(dkv.dev, 0, buf_bytes(&dkv)));
        EXIT_ON_CUDA_ERROR(cudaMemset(dq.dev, 0, buf_bytes(&dq)));
        const pattn_cuda_bwd_queries_t qs = {qkv.dev, dout.dev, lse.dev, dsum.dev, dq.dev,
                                             p->out_cols, counters.dev};
        const pattn_cuda_bwd_keys_t ks = {kv, dkv.dev, (float *)dkv.dev + p->Hkv * D,
                                          2 * p->Hkv * D};
        CHECK_PATTN(pattn_cuda_bwd_step(p, 1, 1, rng, &pdkdv, kdq ? &pdq : NULL, &qs, &ks,
                                        PATTN_CUDA_ACCUMULATE, NULL));
        float *dvx = buf_download(&dkv);
        const int64_t vs = 2 * p->Hkv * D;
        for (int64_t b = 0; b < p->B; ++b)
            for (int64_t g = 0; g < p->Hkv; ++g)
                for (int64_t i = 0; i < L; ++i)
                    for (int64_t j = 0; j < L; ++j) {
                        const int64_t h = g * p->r + head;
                        const int keep = pattn_dropout_keep(rng.seed, rng.offset, b, h, p->Hq,
                                                            L + i, j, p->keep_threshold);
                        bad_dv += keep != (dvx[(b * L + j) * vs + p->Hkv * D + g * D + i] > 0);
                    }
        free(dvx);
    }
    record(bad_dv == 0, "masks    %s %s d%d dK/dV pass (%s): %lld mismatches", family,
           pattnDtypeName(dtype), D, kdkdv->name, (long long)bad_dv);

    /* dQ pass: dO = 1 and one-hot V give dP = 1, so with D = 0, dS = Z s / L and, K one-hot,
     * dQ[i][h D + j] = scale Z s / L. */
    fill(&dout, 1.f);
    buf_upload(&dout);
    EXIT_ON_CUDA_ERROR(cudaMemset(dkv.dev, 0, buf_bytes(&dkv)));
    EXIT_ON_CUDA_ERROR(cudaMemset(dq.dev, 0, buf_bytes(&dq)));
    const pattn_cuda_bwd_queries_t qs = {qkv.dev, dout.dev, lse.dev, dsum.dev, dq.dev,
                                         p->out_cols, counters.dev};
    const pattn_cuda_bwd_keys_t ks = {kv, dkv.dev, (float *)dkv.dev + p->Hkv * D, 2 * p->Hkv * D};
    CHECK_PATTN(pattn_cuda_bwd_step(p, 1, 1, rng, &pdkdv, kdq ? &pdq : NULL, &qs, &ks, PATTN_CUDA_ACCUMULATE,
                                    NULL));
    float *dqx = buf_download(&dq);
    readback_t rq = {p, dqx, p->out_cols};
    bad_dq = mask_mismatches(p, rng, read_at, &rq);
    record(bad_dq == 0, "masks    %s %s d%d dQ pass (%s): %lld mismatches", family,
           pattnDtypeName(dtype), D, (kdq ? kdq : kdkdv)->name, (long long)bad_dq);
    free(dqx);

    EXIT_ON_CUDA_ERROR(pattn_cuda_plan_free(&pf, NULL));
    EXIT_ON_CUDA_ERROR(pattn_cuda_plan_free(&pdkdv, NULL));
    EXIT_ON_CUDA_ERROR(pattn_cuda_plan_free(&pdq, NULL));
    buf_free(&qkv);
    buf_free(&out);
    buf_free(&lse);
    buf_free(&dsum);
    buf_free(&dout);
    buf_free(&dq);
    buf_free(&dkv);
    buf_free(&counters);
    unsetenv("PATTN_CUDA_KERNEL");
}

/* ---------------------------------------------------------------- determinism */

/* One backward repeated in the deterministic mode: every dqkv bit identical to the first run's.
 * The shapes reach every ordering the fused dQ has: d128 (each consumer adds its own columns of
 * a 64-query step) and d64 (each adds its own 64 queries of a 128-query step), many key tiles
 * meeting each query sub-tile, causal and full, packed sequences whose boundaries cut sub-tiles,
 * GQA. */
typedef struct rerun_shape {
    pattnDtype_t dtype;
    int D, r, hkv, causal, P; /* P > 0: packed sequences of lens[0..P-1] */
    int lens[3];
    double p_dropout;
} rerun_shape_t;

static void test_rerun_shape(const rerun_shape_t *s, int reruns)
{
    problem_t pb;
    pattnParams_t pr = problem_params(&pb, s->dtype, s->D, s->r, s->hkv, 1);
    pr.is_causal = s->causal;
    pr.p_dropout = s->p_dropout;
    pr.deterministic = 1;
    if (s->P > 0) {
        pb.cu_q[0] = pb.cu_k[0] = 0;
        for (int u = 0; u < s->P; ++u)
            pb.cu_q[u + 1] = pb.cu_k[u + 1] = pb.cu_q[u] + s->lens[u];
        pr.packing = 1;
        pr.num_seqs = s->P;
        pr.cu_seqlens_q = pb.cu_q;
        pr.cu_seqlens_k = pb.cu_k;
        for (int u = 0; u < s->P; ++u)
            pr.max_seqlen_q = pr.max_seqlen_k = fmax(pr.max_seqlen_q, s->lens[u]);
        pb.seq_lens[0] = pr.rows = pb.cu_q[s->P];
    } else {
        pb.seq_lens[0] = pr.rows = s->lens[0];
    }
    pb.params = pr;
    problem_build(&pb);
    run_arrays_t a = arrays_new(&pb.p);
    buf_random(&a.qkv, -2, 2);
    buf_random(&a.dout, -1, 1);
    buf_upload(&a.qkv);
    buf_upload(&a.dout);
    pattnGenerator_t gen = {next_u64(), 0};
    CHECK_PATTN(pattnForward(NULL, &pb.params, &gen, a.qkv.dev, a.out.dev, a.lse.dev, a.rng_state,
                             NULL));
    const size_t bytes = buf_bytes(&a.dqkv);
    void *first = xcalloc(bytes), *again = xcalloc(bytes);
    int64_t differing = 0;
    for (int i = 0; i < reruns; ++i) {
        CHECK_PATTN(pattnBackward(NULL, &pb.params, a.qkv.dev, a.out.dev, a.lse.dev, a.rng_state,
                                  a.dout.dev, a.dqkv.dev));
        EXIT_ON_CUDA_ERROR(cudaMemcpy(i ? again : first, a.dqkv.dev, bytes, cudaMemcpyDeviceToHost));
        differing += i > 0 && memcmp(first, again, bytes) != 0;
    }
    record(differing == 0,
           "rerun    backward %s d%d r=%d Hkv=%d %s %s%d%s%s: %lld of %d reruns differ",
           pattnDtypeName(s->dtype), s->D, s->r, s->hkv, s->causal ? "causal" : "full",
           s->P ? "packed " : "L=", s->P ? s->P : s->lens[0], s->P ? " sequences" : "",
           s->p_dropout > 0 ? " dropout" : "", (long long)differing, reruns);
    free(first);
    free(again);
    arrays_free(&a);
}

static void test_rerun(int reruns)
{
    static const rerun_shape_t shapes[] = {
        {PATTN_BF16, 128, 2, 2, 0, 0, {1000}, 0.1},
        {PATTN_BF16, 128, 1, 4, 1, 0, {4096}, 0.0},
        {PATTN_FP16, 64, 2, 2, 0, 0, {3000}, 0.0},
        {PATTN_FP16, 64, 1, 2, 1, 3, {1500, 700, 2100}, 0.1},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; ++i)
        test_rerun_shape(&shapes[i], reruns);
}

int main(int argc, char **argv)
{
    int random_n = 40, reruns = 1000;
    unsigned long long seed = 20261201;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--random"))
            random_n = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seed"))
            seed = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--reruns"))
            reruns = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "usage: cuda-selftest [--random N] [--seed S] [--reruns N]\n");
            return 2;
        }
    }
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
        printf("cuda-selftest: no GPU visible, skipped\n");
        return SKIP;
    }
    rng_state = seed;
    printf("cuda-selftest: seed %llu\n", seed);
    const char *families[] = {"tma", "wgmma", "mma", "general"};
    for (int f = 0; f < 4; ++f)
        for (int d = 64; d <= 128; d += 64) {
            test_masks(PATTN_BF16, d, families[f]);
            test_masks(PATTN_FP16, d, families[f]);
        }
    test_kernels(random_n);
    test_restricted_entries(random_n / 4 > 8 ? random_n / 4 : 8);
    test_rerun(reruns);
    printf("cuda-selftest: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
