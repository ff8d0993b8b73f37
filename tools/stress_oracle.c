/*
 * stress_oracle.c: the float64 oracle of pattn-stress (stress_oracle.h). For every unit (sample
 * or packed sequence) it lists the ring's query and key tokens with their global positions
 * (SPEC section 3's split formulas), then computes per query head, in double:
 *   s = scale q.k (masked: key pos > query pos + Nk - Nq when causal), lse = log sum exp s,
 *   P = exp(s - lse), Z the dropout mask at global positions (core/philox.h, checked against
 *   FlashAttention-2 elsewhere), out = sum P Z v / (1 - p);
 *   D = dout.out, dP = dout.v Z / (1 - p), dS = P (dP - D),
 *   dq = scale sum dS k, dk = scale sum dS q, dv = sum P Z dout / (1 - p),
 * where D uses the forward's output as the run returned it, rounded to the dtype: the backward's
 * inputs are what the forward returned (SPEC section 5), and for fp16 and bf16 that rounding
 * alone moves dq and dk by more than their tolerance.
 */
#include "stress_oracle.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "philox.h"
#include "tolerance.h"

typedef struct token {
    int member;
    int64_t row, pos;
} token_t;

typedef struct oracle {
    const stress_case_t *c;
    const stress_result_t *run; /* the forward's out feeds the backward's D */
    int64_t D, r;
    double scale, keep;
    uint8_t threshold;
    double *out[STRESS_MAX_MEMBERS], *lse[STRESS_MAX_MEMBERS], *dqkv[STRESS_MAX_MEMBERS];
} oracle_t;

/* SPEC section 3: global position of local token x of member k, the ring holding lens[0..n). */
static int64_t split_position(pattnSplit_t split, const int64_t *lens, int n, int k, int64_t x)
{
    int64_t before = 0, total = 0;
    for (int m = 0; m < n; ++m)
        total += lens[m];
    if (split == PATTN_SPLIT_CONTIGUOUS) {
        for (int m = 0; m < k; ++m)
            before += lens[m];
        return before + x;
    }
    int64_t heads = 0, tails = 0;
    for (int m = 0; m < k; ++m) {
        heads += lens[m] / 2;
        tails += lens[m] - lens[m] / 2;
    }
    return x < lens[k] / 2 ? heads + x : total - tails - (lens[k] - x);
}

/* The query (is_key 0) or key tokens of unit u over the ring; returns their number. */
static int64_t unit_tokens(const stress_case_t *c, int u, int is_key, token_t *tok)
{
    const pattnParams_t *p = &c->params;
    int P = c->num_seqs;
    int64_t lens[STRESS_MAX_MEMBERS], first[STRESS_MAX_MEMBERS], count = 0;
    for (int k = 0; k < c->n; ++k) {
        const int32_t *cu = (is_key ? c->cu_k : c->cu_q) + k * (P + 1);
        lens[k] = p->packing ? cu[u + 1] - cu[u] : c->seq_lens[k];
        first[k] = p->packing ? cu[u] : u * c->seq_lens[k];
    }
    for (int k = 0; k < c->n; ++k)
        for (int64_t x = 0; x < lens[k]; ++x)
            tok[count++] = (token_t){k, first[k] + x, split_position(p->split, lens, c->n, k, x)};
    return count;
}

static double element(const stress_case_t *c, const void *a, int64_t i)
{
    return (double)pattn_load(c->params.dtype, a, i);
}

static int64_t lse_index(const stress_case_t *c, const token_t *t, int u, int64_t h)
{
    if (c->params.packing)
        return h * c->rows[t->member] + t->row;
    int64_t L = c->seq_lens[t->member];
    return ((int64_t)u * c->Hq + h) * L + (t->row - u * L);
}

/* One query head of one unit: fills out, lse and (backward) dqkv. s and prob are nq x nk. */
static void attend_head(oracle_t *o, int u, int64_t h, const token_t *qt, int64_t nq,
                        const token_t *kt, int64_t nk, double *s, double *zp)
{
    const stress_case_t *c = o->c;
    const pattnParams_t *p = &c->params;
    int64_t D = o->D, g = h / o->r, cols = p->cols, oc = c->out_cols, shift = nk - nq;
    int64_t qc = h * D, kc = (c->Hq + g) * D, vc = (c->Hq + c->Hkv + g) * D;
    for (int64_t i = 0; i < nq; ++i) {
        const void *qa = c->qkv[qt[i].member];
        double mx = -INFINITY;
        for (int64_t j = 0; j < nk; ++j) {
            double v = -INFINITY;
            if (!p->is_causal || kt[j].pos <= qt[i].pos + shift) {
                const void *ka = c->qkv[kt[j].member];
                v = 0;
                for (int64_t d = 0; d < D; ++d)
                    v += element(c, qa, qt[i].row * cols + qc + d) *
                         element(c, ka, kt[j].row * cols + kc + d);
                v *= o->scale;
            }
            s[i * nk + j] = v;
            mx = v > mx ? v : mx;
        }
        double sum = 0;
        for (int64_t j = 0; j < nk; ++j)
            sum += mx == -INFINITY ? 0 : exp(s[i * nk + j] - mx);
        double lse = sum > 0 ? mx + log(sum) : -INFINITY;
        o->lse[qt[i].member][lse_index(c, &qt[i], u, h)] = lse;
        double *out = o->out[qt[i].member] + qt[i].row * oc + qc;
        for (int64_t j = 0; j < nk; ++j) {
            double prob = lse == -INFINITY ? 0 : exp(s[i * nk + j] - lse);
            int kept = p->p_dropout == 0 ||
                       pattn_dropout_keep(c->gen.seed, c->gen.offset, u, h, c->Hq, qt[i].pos,
                                          kt[j].pos, o->threshold);
            s[i * nk + j] = prob;                      /* P */
            zp[i * nk + j] = kept ? prob * o->keep : 0; /* P Z / (1 - p) */
            const void *va = c->qkv[kt[j].member];
            for (int64_t d = 0; d < D && zp[i * nk + j] != 0; ++d)
                out[d] += zp[i * nk + j] * element(c, va, kt[j].row * cols + vc + d);
        }
    }
    if (!c->backward)
        return;
    for (int64_t i = 0; i < nq; ++i) {
        const void *qa = c->qkv[qt[i].member], *doa = c->dout[qt[i].member];
        const void *out = o->run->out[qt[i].member];
        double Di = 0;
        for (int64_t d = 0; d < D; ++d)
            Di += element(c, doa, qt[i].row * oc + qc + d) *
                  element(c, out, qt[i].row * oc + qc + d);
        double *dq = o->dqkv[qt[i].member] + qt[i].row * cols + qc;
        for (int64_t j = 0; j < nk; ++j) {
            double prob = s[i * nk + j];
            if (prob == 0)
                continue;
            const void *kva = c->qkv[kt[j].member];
            double *dk = o->dqkv[kt[j].member] + kt[j].row * cols + kc;
            double *dv = o->dqkv[kt[j].member] + kt[j].row * cols + vc;
            double dp = 0;
            for (int64_t d = 0; d < D; ++d)
                dp += element(c, doa, qt[i].row * oc + qc + d) *
                      element(c, kva, kt[j].row * cols + vc + d);
            double ds = prob * (zp[i * nk + j] / prob * dp - Di);
            for (int64_t d = 0; d < D; ++d) {
                dq[d] += o->scale * ds * element(c, kva, kt[j].row * cols + kc + d);
                dk[d] += o->scale * ds * element(c, qa, qt[i].row * cols + qc + d);
                dv[d] += zp[i * nk + j] * element(c, doa, qt[i].row * oc + qc + d);
            }
        }
    }
}

/* Elements of got (dtype or fp32) that miss want by more than atol + rtol |want|. */
static int64_t compare(const char *what, int member, pattnDtype_t dtype, const void *got,
                       const double *want, int64_t count, double atol, double rtol, char *why,
                       size_t size, int64_t bad)
{
    for (int64_t i = 0; i < count; ++i) {
        double g = (double)pattn_load(dtype, got, i), w = want[i];
        int ok = (isinf(w) || isinf(g)) ? g == w : fabs(g - w) <= atol + rtol * fabs(w);
        if (!ok && bad++ == 0)
            snprintf(why, size, "member %d %s[%lld] = %.9g, float64 oracle %.9g (tolerance %g + "
                     "%g |ref|)", member, what, (long long)i, g, w, atol, rtol);
    }
    return bad;
}

static int64_t check_against(oracle_t *o, const stress_result_t *r, char *why, size_t size)
{
    const stress_case_t *c = o->c;
    const pattnParams_t *p = &c->params;
    conf_tolerance_t tol = tolerance_default(p->dtype, p->p_dropout);
    int64_t bad = 0;
    for (int k = 0; k < c->n; ++k) {
        bad = compare("out", k, p->dtype, r->out[k], o->out[k], c->rows[k] * c->out_cols,
                      tol.atol_out, tol.rtol_out, why, size, bad);
        bad = compare("lse", k, PATTN_FP32, r->lse[k], o->lse[k], c->rows[k] * c->Hq,
                      tol.atol_lse, 0, why, size, bad);
        if (c->backward)
            bad = compare("dqkv", k, p->dtype, r->dqkv[k], o->dqkv[k], c->rows[k] * p->cols,
                          tol.atol_dqkv, tol.rtol_dqkv, why, size, bad);
        if ((uint64_t)r->rng_state[2 * k] != c->gen.seed ||
            (uint64_t)r->rng_state[2 * k + 1] != c->gen.offset) {
            if (bad++ == 0)
                snprintf(why, size, "member %d rng_state = [%lld, %lld], expected [%llu, %llu]",
                         k, (long long)r->rng_state[2 * k], (long long)r->rng_state[2 * k + 1],
                         (unsigned long long)c->gen.seed, (unsigned long long)c->gen.offset);
        }
    }
    return bad;
}

int64_t stress_oracle_check(const stress_case_t *c, const stress_result_t *r, char *why,
                            size_t size)
{
    const pattnParams_t *p = &c->params;
    oracle_t o = {c, r, p->head_dim, p->group_query_ratio, 0, 1.0 / (1.0 - p->p_dropout),
                  pattn_dropout_threshold(p->p_dropout), {0}, {0}, {0}};
    o.scale = p->softmax_scale < 0 ? 1.0 / sqrt((double)p->head_dim)
                                   : (double)(float)p->softmax_scale;
    int64_t total = 0, bad = -1;
    for (int k = 0; k < c->n; ++k)
        total += c->rows[k];
    token_t *qt = malloc((size_t)(total + 1) * sizeof *qt);
    token_t *kt = malloc((size_t)(total + 1) * sizeof *kt);
    double *s = malloc((size_t)(total * total + 1) * sizeof *s);
    double *zp = malloc((size_t)(total * total + 1) * sizeof *zp);
    int ok = qt && kt && s && zp;
    for (int k = 0; ok && k < c->n; ++k) {
        o.out[k] = calloc((size_t)(c->rows[k] * c->out_cols + 1), sizeof(double));
        o.lse[k] = calloc((size_t)(c->rows[k] * c->Hq + 1), sizeof(double));
        o.dqkv[k] = calloc((size_t)(c->rows[k] * p->cols + 1), sizeof(double));
        ok = o.out[k] && o.lse[k] && o.dqkv[k];
    }
    int units = p->packing ? c->num_seqs : (int)c->batch;
    for (int u = 0; ok && u < units; ++u) {
        int64_t nq = unit_tokens(c, u, 0, qt), nk = unit_tokens(c, u, 1, kt);
        for (int64_t h = 0; h < c->Hq; ++h)
            attend_head(&o, u, h, qt, nq, kt, nk, s, zp);
    }
    if (ok)
        bad = check_against(&o, r, why, size);
    for (int k = 0; k < c->n; ++k) {
        free(o.out[k]);
        free(o.lse[k]);
        free(o.dqkv[k]);
    }
    free(qt);
    free(kt);
    free(s);
    free(zp);
    return bad;
}
