/*
 * problem.c: validation of pattnParams_t and derivation of pattn_problem_t (problem.h).
 *
 * Every check names the parameter, the value it got and what was expected. Nothing here
 * touches an output: callers validate first, then compute.
 */
#include "problem.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "philox.h"
#include "status.h"

#define BAD(...) pattn_error(pattnInvalidArgument, __VA_ARGS__)

/* Checks one row of cumulative lengths: starts at 0, non-decreasing, ends at total. */
static pattnResult_t check_cu_seqlens(const char *name, int member, const int32_t *cu, int P,
                                      int64_t total)
{
    if (cu[0] != 0)
        return BAD("%s[%d][0] = %d: expected 0 (cumulative lengths start at 0)", name, member,
                   (int)cu[0]);
    for (int s = 0; s < P; ++s)
        if (cu[s + 1] < cu[s])
            return BAD("%s[%d][%d] = %d < %s[%d][%d] = %d: expected non-decreasing cumulative "
                       "lengths",
                       name, member, s + 1, (int)cu[s + 1], name, member, s, (int)cu[s]);
    if (cu[P] != total)
        return BAD("%s[%d][%d] = %d: expected the local token count %lld (the last entry must "
                   "equal rows / seq_lens of that member)",
                   name, member, P, (int)cu[P], (long long)total);
    return pattnSuccess;
}

static pattnResult_t check_scalars(const pattnParams_t *pr)
{
    if (pr->size != sizeof(pattnParams_t) || pr->version != PATTN_API_VERSION)
        return BAD("params.size = %zu, params.version = %u: expected %zu and %d (initialise the "
                   "struct with PATTN_PARAMS_INIT)",
                   pr->size, (unsigned)pr->version, sizeof(pattnParams_t), PATTN_API_VERSION);
    if (pr->dtype != PATTN_FP32 && pr->dtype != PATTN_FP16 && pr->dtype != PATTN_BF16)
        return BAD("dtype = %d: expected PATTN_FP32 (0), PATTN_FP16 (1) or PATTN_BF16 (2)",
                   (int)pr->dtype);
    if (pr->head_dim <= 0 || pr->head_dim % 8 != 0 || pr->head_dim > 256)
        return BAD("head_dim = %lld: expected a multiple of 8 in [8, 256]", (long long)pr->head_dim);
    if (pr->group_query_ratio < 1)
        return BAD("group_query_ratio = %lld: expected >= 1", (long long)pr->group_query_ratio);
    if (pr->cols <= 0 || pr->cols % pr->head_dim != 0)
        return BAD("cols = %lld: expected a positive multiple of head_dim = %lld",
                   (long long)pr->cols, (long long)pr->head_dim);
    int64_t heads = pr->cols / pr->head_dim;
    /* r + 2 heads at the least (r query heads, one K and one V head): so r + 2 cannot overflow. */
    if (heads < 3)
        return BAD("cols = %lld holds %lld heads of head_dim %lld: expected at least 3 (a query, "
                   "a K and a V head)",
                   (long long)pr->cols, (long long)heads, (long long)pr->head_dim);
    if (pr->group_query_ratio > heads - 2)
        return BAD("group_query_ratio = %lld: expected at most %lld (cols = %lld holds %lld heads "
                   "of head_dim %lld: r query heads per KV head, plus its K and V heads)",
                   (long long)pr->group_query_ratio, (long long)(heads - 2),
                   (long long)pr->cols, (long long)heads, (long long)pr->head_dim);
    if (heads % (pr->group_query_ratio + 2) != 0)
        return BAD("cols = %lld holds %lld heads of head_dim %lld: expected a multiple of "
                   "group_query_ratio + 2 = %lld (layout [Q: r*Hkv | K: Hkv | V: Hkv])",
                   (long long)pr->cols, (long long)heads, (long long)pr->head_dim,
                   (long long)(pr->group_query_ratio + 2));
    if (pr->rows < 0)
        return BAD("rows = %lld: expected >= 0", (long long)pr->rows);
    if (!(pr->p_dropout >= 0.0 && pr->p_dropout < 1.0))
        return BAD("p_dropout = %g: expected 0 <= p < 1", pr->p_dropout);
    /* The kernels compute in fp32: a scale beyond FLT_MAX would become +inf there. */
    if (!isfinite(pr->softmax_scale) || pr->softmax_scale > FLT_MAX)
        return BAD("softmax_scale = %g: expected a number finite in fp32, at most %g (< 0 means "
                   "1/sqrt(head_dim))",
                   pr->softmax_scale, (double)FLT_MAX);
    if (!(pr->max_flops >= 0))
        return BAD("max_flops = %g: expected >= 0 (0 means PATTN_DEFAULT_MAX_FLOPS = %g, INFINITY "
                   "no limit)",
                   pr->max_flops, PATTN_DEFAULT_MAX_FLOPS);
    if (pr->is_causal != 0 && pr->is_causal != 1)
        return BAD("is_causal = %d: expected 0 or 1", pr->is_causal);
    if (pr->return_softmax != 0 && pr->return_softmax != 1)
        return BAD("return_softmax = %d: expected 0 or 1", pr->return_softmax);
    if (pr->packing != 0 && pr->packing != 1)
        return BAD("packing = %d: expected 0 or 1", pr->packing);
    if (pr->deterministic != 0 && pr->deterministic != 1)
        return BAD("deterministic = %d: expected 0 or 1", pr->deterministic);
    if (pr->split != PATTN_SPLIT_CONTIGUOUS && pr->split != PATTN_SPLIT_SYM)
        return BAD("split = %d: expected PATTN_SPLIT_CONTIGUOUS (0) or PATTN_SPLIT_SYM (1)",
                   (int)pr->split);
    return pattnSuccess;
}

/* Strategies, pipelines and the active ring. */
static pattnResult_t build_ring(const pattnParams_t *pr, pattn_problem_t *p)
{
    if (pr->num_strategies < 1)
        return BAD("num_strategies = %d: expected >= 1", pr->num_strategies);
    if (pr->num_pipelines < 1)
        return BAD("num_pipelines = %d: expected >= 1", pr->num_pipelines);
    if (!pr->seq_lens)
        return BAD("seq_lens = NULL: expected num_strategies x num_pipelines lengths");
    if (!pr->cp_groups)
        return BAD("cp_groups = NULL: expected num_strategies x num_pipelines group ids");
    if (pr->strategy < 0 || pr->strategy >= pr->num_strategies)
        return BAD("strategy = %d: expected an index in [0, %d)", pr->strategy,
                   pr->num_strategies);
    if (pr->pipeline < 0 || pr->pipeline >= pr->num_pipelines)
        return BAD("pipeline = %d: expected an index in [0, %d)", pr->pipeline,
                   pr->num_pipelines);
    int64_t np = pr->num_pipelines;
    for (int s = 0; s < pr->num_strategies; ++s)
        for (int q = 0; q < pr->num_pipelines; ++q)
            if (pr->seq_lens[s * np + q] < 0)
                return BAD("seq_lens[%d][%d] = %lld: expected >= 0", s, q,
                           (long long)pr->seq_lens[s * np + q]);
    const int64_t *lens = pr->seq_lens + pr->strategy * np;
    const int64_t *groups = pr->cp_groups + pr->strategy * np;
    int64_t g = groups[pr->pipeline];
    p->n = 0;
    for (int q = 0; q < pr->num_pipelines; ++q) {
        if (groups[q] != g)
            continue;
        if (p->n == PATTN_MAX_RING)
            return BAD("cp_groups[%d]: group %lld has more than PATTN_MAX_RING = %d members",
                       pr->strategy, (long long)g, PATTN_MAX_RING);
        if (q == pr->pipeline)
            p->me = p->n;
        p->pipelines[p->n] = q;
        p->L[p->n] = lens[q];
        if (!pr->packing && lens[q] < 1)
            return BAD("seq_lens[%d][%d] = %lld: expected >= 1 for a member of the active ring "
                       "(pipeline %d)",
                       pr->strategy, q, (long long)lens[q], pr->pipeline);
        ++p->n;
    }
    p->split = pr->split;
    return pattnSuccess;
}

static pattnResult_t build_packing(const pattnParams_t *pr, pattn_problem_t *p)
{
    if (pr->num_seqs < 1 || pr->num_seqs > INT32_MAX - 1)
        return BAD("num_seqs = %d: expected >= 1 packed sequences and at most %d (num_seqs + 1 "
                   "cumulative lengths per member)",
                   pr->num_seqs, INT32_MAX - 1);
    if (!pr->cu_seqlens_q)
        return BAD("cu_seqlens_q = NULL: expected num_seqs + 1 = %d cumulative lengths per ring "
                   "member",
                   pr->num_seqs + 1);
    if (!pr->cu_seqlens_k)
        return BAD("cu_seqlens_k = NULL: expected num_seqs + 1 = %d cumulative lengths per ring "
                   "member",
                   pr->num_seqs + 1);
    int P = pr->num_seqs;
    p->P = P;
    if (pr->rows != p->L[p->me])
        return BAD("rows = %lld: expected seq_lens[%d][%d] = %lld (packed: rows = local tokens)",
                   (long long)pr->rows, pr->strategy, pr->pipeline, (long long)p->L[p->me]);
    for (int k = 0; k < p->n; ++k) {
        p->cu_q[k] = pr->cu_seqlens_q + (int64_t)k * (P + 1);
        p->cu_k[k] = pr->cu_seqlens_k + (int64_t)k * (P + 1);
        pattnResult_t r = check_cu_seqlens("cu_seqlens_q", k, p->cu_q[k], P, p->L[k]);
        if (r != pattnSuccess)
            return r;
        r = check_cu_seqlens("cu_seqlens_k", k, p->cu_k[k], P, p->L[k]);
        if (r != pattnSuccess)
            return r;
        if (p->n > 1)
            for (int s = 0; s <= P; ++s)
                if (p->cu_q[k][s] != p->cu_k[k][s])
                    return BAD("cu_seqlens_k[%d][%d] = %d differs from cu_seqlens_q[%d][%d] = %d: "
                               "with context parallelism (ring of %d) they must be equal",
                               k, s, (int)p->cu_k[k][s], k, s, (int)p->cu_q[k][s], p->n);
    }
    int64_t lq = pattn_member_lq(p, p->me), nk = 0;
    for (int s = 0; s < P; ++s) {
        int64_t len = 0;
        for (int k = 0; k < (p->n > 1 ? p->n : 1); ++k)
            len += p->cu_k[k][s + 1] - p->cu_k[k][s];
        if (len > nk)
            nk = len;
    }
    if (pr->max_seqlen_q < lq)
        return BAD("max_seqlen_q = %lld: expected >= %lld, the longest query piece on this rank",
                   (long long)pr->max_seqlen_q, (long long)lq);
    if (pr->max_seqlen_k < nk)
        return BAD("max_seqlen_k = %lld: expected >= %lld, the longest key sequence%s",
                   (long long)pr->max_seqlen_k, (long long)nk,
                   p->n > 1 ? " (its global length over the ring)" : "");
    p->max_seqlen_q = pr->max_seqlen_q;
    p->max_seqlen_k = pr->max_seqlen_k;
    p->B = 1;
    for (int k = 0; k < p->n; ++k)
        p->rows[k] = p->L[k];
    p->sm_lq = lq;
    p->sm_nk = nk;
    return pattnSuccess;
}

static pattnResult_t build_samples(const pattnParams_t *pr, pattn_problem_t *p);

/* The most elements one array may hold: the byte count of any array, and every product of
 * counts below, then fits int64. */
#define MAX_ELEMENTS ((int64_t)1 << 60)

/* a * b (a, b >= 0, -1 meaning "too large") when at most MAX_ELEMENTS, else -1. */
static int64_t bounded_product(int64_t a, int64_t b)
{
    if (a < 0 || b < 0)
        return -1;
    return a == 0 || b <= MAX_ELEMENTS / a ? a * b : -1;
}

/* Element counts of every array, and the generator's advance, must fit (MAX_ELEMENTS). */
static pattnResult_t check_sizes(const pattnParams_t *pr, const pattn_problem_t *p)
{
    for (int k = 0; k < p->n; ++k)
        if (bounded_product(p->rows[k], p->qkv_cols) < 0)
            return BAD("cols = %lld with %lld rows of ring member %d (pipeline %d): its qkv would "
                       "hold more than 2^60 elements",
                       (long long)p->qkv_cols, (long long)p->rows[k], k, p->pipelines[k]);
    int64_t units = pattn_num_units(p);
    int64_t sm = bounded_product(bounded_product(bounded_product(units, p->Hq), p->sm_lq),
                                 p->sm_nk);
    if (p->return_softmax && sm < 0)
        return BAD("return_softmax = 1: the softmax of (%lld, %lld, %lld, %lld) would hold more "
                   "than 2^60 elements",
                   (long long)units, (long long)p->Hq, (long long)p->sm_lq, (long long)p->sm_nk);
    if (p->p_dropout > 0 && bounded_product(bounded_product(units, p->Hq), 32) < 0)
        return BAD("p_dropout = %g: the generator's advance units * Hq * 32 = %lld * %lld * 32 "
                   "would exceed 2^60",
                   p->p_dropout, (long long)units, (long long)p->Hq);
    return pattnSuccess;
}

/* Query-key pairs that member k's queries meet over the whole ring (masks not counted). */
static double member_pairs(const pattn_problem_t *p, int k)
{
    if (!p->packing) {
        double keys = 0;
        for (int m = 0; m < p->n; ++m)
            keys += (double)p->L[m];
        return (double)p->B * (double)p->L[k] * keys;
    }
    double pairs = 0;
    for (int u = 0; u < p->P; ++u) {
        double keys = 0;
        for (int m = 0; m < p->n; ++m)
            keys += (double)(p->cu_k[m][u + 1] - p->cu_k[m][u]);
        pairs += (double)(p->cu_q[k][u + 1] - p->cu_q[k][u]) * keys;
    }
    return pairs;
}

pattnResult_t pattn_problem_check_work(const pattn_problem_t *p, int backward, int emulated)
{
    double pairs = 0;
    for (int k = 0; k < p->n; ++k)
        if (emulated || k == p->me)
            pairs += member_pairs(p, k);
    /* FlashAttention's count: 4 D flops per pair and head forward, 2.5 times that backward. */
    double per_pair = 4.0 * (double)p->D * (double)p->Hq * (backward ? 2.5 : 1.0);
    double flops = pairs * per_pair;
    if (flops <= p->max_flops)
        return pattnSuccess;
    return BAD("max_flops = %g: the %s%s asks for %.3g FLOPs (%.3g query-key pairs times %g): "
               "expected at most max_flops (0 means PATTN_DEFAULT_MAX_FLOPS = %g); raise "
               "params.max_flops, or set it to INFINITY for no limit",
               p->max_flops, backward ? "backward" : "forward",
               emulated && p->n > 1 ? " of every ring member" : "", flops, pairs, per_pair,
               PATTN_DEFAULT_MAX_FLOPS);
}

pattnResult_t pattn_problem_build(const pattnParams_t *pr, pattn_problem_t *p)
{
    if (!pr)
        return BAD("params = NULL: expected a pattnParams_t initialised with PATTN_PARAMS_INIT");
    if (!p)
        return pattn_error(pattnInternalError, "pattn_problem_build: prob = NULL");
    memset(p, 0, sizeof *p);
    pattnResult_t r = check_scalars(pr);
    if (r != pattnSuccess)
        return r;
    p->dtype = pr->dtype;
    p->D = pr->head_dim;
    p->r = pr->group_query_ratio;
    p->Hkv = pr->cols / pr->head_dim / (p->r + 2);
    p->Hq = p->r * p->Hkv;
    p->qkv_cols = pr->cols;
    p->out_cols = p->Hq * p->D;
    p->packing = pr->packing;
    p->is_causal = pr->is_causal;
    p->return_softmax = pr->return_softmax;
    p->deterministic = pr->deterministic;
    p->scale = pr->softmax_scale < 0 ? (float)(1.0 / sqrt((double)pr->head_dim))
                                     : (float)pr->softmax_scale;
    p->p_dropout = pr->p_dropout;
    p->keep_threshold = pattn_dropout_threshold(pr->p_dropout);
    p->keep_scale = (float)(1.0 / (1.0 - pr->p_dropout));
    p->max_flops = pr->max_flops > 0 ? pr->max_flops : PATTN_DEFAULT_MAX_FLOPS;

    if ((r = build_ring(pr, p)) != pattnSuccess)
        return r;
    r = pr->packing ? build_packing(pr, p) : build_samples(pr, p);
    return r == pattnSuccess ? check_sizes(pr, p) : r;
}

/* Not packing: the batch and every member's rows. */
static pattnResult_t build_samples(const pattnParams_t *pr, pattn_problem_t *p)
{
    int64_t L = p->L[p->me];
    if (pr->rows == 0 || pr->rows % L != 0)
        return BAD("rows = %lld: expected a positive multiple of seq_lens[%d][%d] = %lld "
                   "(rows = batch * local length)",
                   (long long)pr->rows, pr->strategy, pr->pipeline, (long long)L);
    p->B = pr->rows / L;
    int64_t N = 0;
    for (int k = 0; k < p->n; ++k) {
        /* Bounded so that rows, and sums of them over the ring, fit in int64. */
        if (p->L[k] > INT64_MAX / PATTN_MAX_RING / p->B)
            return BAD("seq_lens[%d][%d] = %lld: too large (times the batch %lld it overflows "
                       "the row count of a ring member)",
                       pr->strategy, p->pipelines[k], (long long)p->L[k], (long long)p->B);
        p->rows[k] = p->B * p->L[k];
        N += p->L[k];
    }
    p->sm_lq = L;
    p->sm_nk = N;
    return pattnSuccess;
}
