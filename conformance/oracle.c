/*
 * oracle.c: the exact (float64) and naive (same-dtype) attention models of oracle.h.
 *
 * For every unit (sample or packed sequence) the ring's query and key tokens are listed with
 * their global positions; then per query head, over the nq x nk pairs of the unit:
 *   exact  s = scale q.k (masked: key pos > query pos + Nk - Nq when causal), lse = log sum exp s,
 *          P = exp(s - lse), Z the dropout mask, out = sum P Z v / (1 - p);
 *          D = dout.out, dP = dout.v, dS = P Z / (1 - p) dP - P D,
 *          dq = scale sum dS k, dk = scale sum dS q, dv = sum P Z dout / (1 - p);
 *   naive  the same graph in float32, rounded to the dtype where naive.py rounds (oracle.h).
 * Rows of one head are independent in the forward and dQ, key tokens in dK/dV: OpenMP splits
 * those loops, so results do not depend on the thread count.
 */
#include "oracle.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "philox.h"

typedef struct token {
    int member;
    int64_t row, pos;
} token_t;

typedef struct model {
    const conf_oracle_problem_t *p;
    conf_oracle_result_t *res;
    int64_t D, r, Hq, cols, oc;
    double keep; /* 1 / (1 - p_dropout) */
    uint8_t threshold;
    float *qkv[PATTN_MAX_RING], *dout[PATTN_MAX_RING], *fwd_out[PATTN_MAX_RING];
} model_t;

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
static int64_t unit_tokens(const conf_oracle_problem_t *p, int64_t u, int is_key, token_t *tok)
{
    int64_t lens[PATTN_MAX_RING], first[PATTN_MAX_RING], count = 0;
    for (int k = 0; k < p->n; ++k) {
        const conf_oracle_member_t *m = &p->member[k];
        const int32_t *cu = is_key ? m->cu_k : m->cu_q;
        lens[k] = p->packing ? cu[u + 1] - cu[u] : m->seq_len;
        first[k] = p->packing ? cu[u] : u * m->seq_len;
    }
    for (int k = 0; k < p->n; ++k)
        for (int64_t x = 0; x < lens[k]; ++x)
            tok[count++] = (token_t){k, first[k] + x, split_position(p->split, lens, p->n, k, x)};
    return count;
}

static int64_t lse_index(const model_t *o, const token_t *t, int64_t u, int64_t h)
{
    const conf_oracle_member_t *m = &o->p->member[t->member];
    if (o->p->packing)
        return h * m->rows + t->row;
    return (u * o->Hq + h) * m->seq_len + (t->row - u * m->seq_len);
}

static int visible(const model_t *o, const token_t *q, const token_t *k, int64_t shift)
{
    return !o->p->is_causal || k->pos <= q->pos + shift;
}

static int kept(const model_t *o, int64_t u, int64_t h, const token_t *q, const token_t *k)
{
    const conf_oracle_problem_t *p = o->p;
    return p->p_dropout == 0 || pattn_dropout_keep(p->seed, p->offset, (int)u, h, o->Hq, q->pos,
                                                   k->pos, o->threshold);
}

#define ROW(o, a, t, col) ((o)->a[(t)->member] + (t)->row * (o)->cols + (col))
#define OROW(o, a, t, col) ((o)->a[(t)->member] + (t)->row * (o)->oc + (col))

/* ---------------------------------------------------------------- exact */
/* One query head of one unit. P and ZP are nq x nk scratch (P becomes dS in the backward). */
static void exact_head(const model_t *o, int64_t u, int64_t h, const token_t *qt, int64_t nq,
                       const token_t *kt, int64_t nk, double *P, double *ZP)
{
    const int64_t D = o->D, g = h / o->r, qc = h * D, kc = (o->Hq + g) * D,
                  vc = (o->Hq + o->p->num_kv_heads + g) * D, shift = nk - nq;
    const double scale = o->p->scale;
#pragma omp parallel for schedule(dynamic, 4)
    for (int64_t i = 0; i < nq; ++i) {
        const float *q = ROW(o, qkv, &qt[i], qc);
        double *s = P + i * nk, mx = -INFINITY, sum = 0;
        for (int64_t j = 0; j < nk; ++j) {
            s[j] = -INFINITY;
            if (visible(o, &qt[i], &kt[j], shift)) {
                const float *k = ROW(o, qkv, &kt[j], kc);
                double dot = 0;
                for (int64_t d = 0; d < D; ++d)
                    dot += (double)q[d] * k[d];
                s[j] = scale * dot;
            }
            mx = s[j] > mx ? s[j] : mx;
        }
        for (int64_t j = 0; j < nk && mx > -INFINITY; ++j)
            sum += exp(s[j] - mx);
        double lse = sum > 0 ? mx + log(sum) : -INFINITY;
        o->res->lse[qt[i].member][lse_index(o, &qt[i], u, h)] = lse;
        double *out = o->res->out[qt[i].member] + qt[i].row * o->oc + qc;
        for (int64_t j = 0; j < nk; ++j) {
            s[j] = lse == -INFINITY ? 0 : exp(s[j] - lse);
            ZP[i * nk + j] = kept(o, u, h, &qt[i], &kt[j]) ? s[j] * o->keep : 0;
            const float *v = ROW(o, qkv, &kt[j], vc);
            for (int64_t d = 0; d < D && ZP[i * nk + j] != 0; ++d)
                out[d] += ZP[i * nk + j] * v[d];
        }
    }
    if (!o->p->backward)
        return;
#pragma omp parallel for schedule(dynamic, 4)
    for (int64_t i = 0; i < nq; ++i) {
        const float *dout = OROW(o, dout, &qt[i], qc);
        double Di = 0;
        if (o->fwd_out[qt[i].member]) {
            const float *out = OROW(o, fwd_out, &qt[i], qc);
            for (int64_t d = 0; d < D; ++d)
                Di += (double)dout[d] * out[d];
        } else {
            const double *out = o->res->out[qt[i].member] + qt[i].row * o->oc + qc;
            for (int64_t d = 0; d < D; ++d)
                Di += dout[d] * out[d];
        }
        double *ds = P + i * nk, *dq = o->res->dqkv[qt[i].member] + qt[i].row * o->cols + qc;
        for (int64_t j = 0; j < nk; ++j) {
            double dp = 0;
            if (ZP[i * nk + j] != 0) {
                const float *v = ROW(o, qkv, &kt[j], vc);
                for (int64_t d = 0; d < D; ++d)
                    dp += (double)dout[d] * v[d];
            }
            ds[j] = ZP[i * nk + j] * dp - ds[j] * Di;
            const float *k = ROW(o, qkv, &kt[j], kc);
            for (int64_t d = 0; d < D && ds[j] != 0; ++d)
                dq[d] += scale * ds[j] * k[d];
        }
    }
#pragma omp parallel for schedule(dynamic, 4)
    for (int64_t j = 0; j < nk; ++j) {
        double *dk = o->res->dqkv[kt[j].member] + kt[j].row * o->cols + kc;
        double *dv = o->res->dqkv[kt[j].member] + kt[j].row * o->cols + vc;
        for (int64_t i = 0; i < nq; ++i) {
            double ds = P[i * nk + j], zp = ZP[i * nk + j];
            const float *q = ROW(o, qkv, &qt[i], qc), *dout = OROW(o, dout, &qt[i], qc);
            for (int64_t d = 0; d < D && ds != 0; ++d)
                dk[d] += scale * ds * q[d];
            for (int64_t d = 0; d < D && zp != 0; ++d)
                dv[d] += zp * dout[d];
        }
    }
}

/* ---------------------------------------------------------------- naive */
static float rd(const model_t *o, float x) { return pattn_round_to(o->p->dtype, x); }

/* The naive model's scratch: nq x nk PR (probabilities), PZ (P Z), DS (dP Z, then dS); QS
 * (rd(q scale)) and ACC (row accumulators), nq x D; VS (rd(v / (1 - p))), nk x D; and DK, DV
 * (nk x D), the KV head's dK and dV summed over its r query heads in float32. */
typedef struct naive_scratch {
    float *PR, *PZ, *DS, *QS, *ACC, *VS, *DK, *DV;
} naive_scratch_t;

/* One query head of one unit in the naive model. */
static void naive_head(const model_t *o, int64_t u, int64_t h, const token_t *qt, int64_t nq,
                       const token_t *kt, int64_t nk, const naive_scratch_t *w)
{
    const int64_t D = o->D, g = h / o->r, qc = h * D, kc = (o->Hq + g) * D,
                  vc = (o->Hq + o->p->num_kv_heads + g) * D, shift = nk - nq;
    const float scale = (float)o->p->scale, keep = (float)o->keep;
    for (int64_t i = 0; i < nq; ++i)
        for (int64_t d = 0; d < D; ++d)
            w->QS[i * D + d] = rd(o, ROW(o, qkv, &qt[i], qc)[d] * scale);
    for (int64_t j = 0; j < nk; ++j)
        for (int64_t d = 0; d < D; ++d)
            w->VS[j * D + d] = rd(o, ROW(o, qkv, &kt[j], vc)[d] * keep);
#pragma omp parallel for schedule(dynamic, 4)
    for (int64_t i = 0; i < nq; ++i) {
        const float *qs = w->QS + i * D;
        float *s = w->PR + i * nk, *pz = w->PZ + i * nk, *acc = w->ACC + i * D;
        float mx = -INFINITY, sum = 0;
        for (int64_t j = 0; j < nk; ++j) {
            s[j] = -INFINITY;
            if (visible(o, &qt[i], &kt[j], shift)) {
                const float *k = ROW(o, qkv, &kt[j], kc);
                float dot = 0;
                for (int64_t d = 0; d < D; ++d)
                    dot += qs[d] * k[d];
                s[j] = rd(o, dot);
            }
            mx = s[j] > mx ? s[j] : mx;
        }
        for (int64_t j = 0; j < nk && mx > -INFINITY; ++j)
            sum += expf(s[j] - mx);
        for (int64_t d = 0; d < D; ++d)
            acc[d] = 0;
        for (int64_t j = 0; j < nk; ++j) {
            s[j] = mx == -INFINITY || s[j] == -INFINITY ? 0 : rd(o, expf(s[j] - mx) / sum);
            pz[j] = s[j] != 0 && kept(o, u, h, &qt[i], &kt[j]) ? s[j] : 0;
            for (int64_t d = 0; d < D && pz[j] != 0; ++d)
                acc[d] += pz[j] * w->VS[j * D + d];
        }
        double *out = o->res->out[qt[i].member] + qt[i].row * o->oc + qc;
        for (int64_t d = 0; d < D; ++d)
            out[d] = rd(o, acc[d]);
    }
    if (!o->p->backward)
        return;
#pragma omp parallel for schedule(dynamic, 4)
    for (int64_t i = 0; i < nq; ++i) {
        const float *dout = OROW(o, dout, &qt[i], qc);
        const float *prob = w->PR + i * nk, *pz = w->PZ + i * nk;
        float *ds = w->DS + i * nk, *acc = w->ACC + i * D, rowsum = 0;
        for (int64_t j = 0; j < nk; ++j) { /* dP Z: rd(dout vs^T) where kept, 0 where dropped */
            ds[j] = 0;
            if (pz[j] != 0) {
                float dot = 0;
                for (int64_t d = 0; d < D; ++d)
                    dot += dout[d] * w->VS[j * D + d];
                ds[j] = rd(o, dot);
            }
            rowsum += ds[j] * prob[j];
        }
        for (int64_t d = 0; d < D; ++d)
            acc[d] = 0;
        for (int64_t j = 0; j < nk; ++j) { /* masked entries have probability 0, so dS 0 */
            ds[j] = prob[j] == 0 ? 0 : rd(o, prob[j] * (ds[j] - rowsum));
            const float *k = ROW(o, qkv, &kt[j], kc);
            for (int64_t d = 0; d < D && ds[j] != 0; ++d)
                acc[d] += ds[j] * k[d];
        }
        double *dq = o->res->dqkv[qt[i].member] + qt[i].row * o->cols + qc;
        for (int64_t d = 0; d < D; ++d)
            dq[d] = rd(o, rd(o, acc[d]) * scale);
    }
#pragma omp parallel for schedule(dynamic, 4)
    for (int64_t j = 0; j < nk; ++j) {
        float dk[CONF_ORACLE_MAX_D] = {0}, dv[CONF_ORACLE_MAX_D] = {0};
        for (int64_t i = 0; i < nq; ++i) {
            float ds = w->DS[i * nk + j], pz = w->PZ[i * nk + j];
            const float *qs = w->QS + i * D, *dout = OROW(o, dout, &qt[i], qc);
            for (int64_t d = 0; d < D && ds != 0; ++d)
                dk[d] += ds * qs[d];
            for (int64_t d = 0; d < D && pz != 0; ++d)
                dv[d] += pz * dout[d];
        }
        for (int64_t d = 0; d < D; ++d) {
            w->DK[j * D + d] += rd(o, dk[d]);
            w->DV[j * D + d] += rd(o, rd(o, dv[d]) * keep);
        }
    }
}

/* ---------------------------------------------------------------- driver */
/* A member's dtype array as float32 (exact: the dtype's values are float32 values). */
static float *as_float(pattnDtype_t dtype, const void *a, int64_t count)
{
    float *f = malloc((size_t)(count ? count : 1) * sizeof *f);
    for (int64_t i = 0; f && i < count; ++i)
        f[i] = pattn_load(dtype, a, i);
    return f;
}

void conf_oracle_free(conf_oracle_result_t *res)
{
    for (int k = 0; k < PATTN_MAX_RING; ++k) {
        free(res->out[k]);
        free(res->lse[k]);
        free(res->dqkv[k]);
        res->out[k] = res->lse[k] = res->dqkv[k] = NULL;
    }
}

int conf_oracle_compute(const conf_oracle_problem_t *p, conf_oracle_model_t model,
                        conf_oracle_result_t *res)
{
    memset(res, 0, sizeof *res);
    model_t o = {p, res, p->head_dim, p->group_query_ratio,
                 p->num_kv_heads * p->group_query_ratio, 0, 0, 1.0 / (1.0 - p->p_dropout),
                 pattn_dropout_threshold(p->p_dropout), {0}, {0}, {0}};
    o.oc = o.Hq * o.D;
    o.cols = (o.Hq + 2 * p->num_kv_heads) * o.D;
    int64_t total = 0;
    int ok = 1;
    for (int k = 0; k < p->n; ++k) {
        const conf_oracle_member_t *m = &p->member[k];
        total += m->rows;
        res->out[k] = calloc((size_t)(m->rows * o.oc + 1), sizeof(double));
        res->lse[k] = calloc((size_t)(m->rows * o.Hq + 1), sizeof(double));
        res->dqkv[k] = calloc((size_t)(m->rows * o.cols + 1), sizeof(double));
        o.qkv[k] = as_float(p->dtype, m->qkv, m->rows * o.cols);
        o.dout[k] = p->backward ? as_float(p->dtype, m->dout, m->rows * o.oc) : NULL;
        o.fwd_out[k] = p->backward && m->fwd_out ? as_float(p->dtype, m->fwd_out, m->rows * o.oc)
                                                 : NULL;
        ok = ok && res->out[k] && res->lse[k] && res->dqkv[k] && o.qkv[k] &&
             (!p->backward || o.dout[k]) && (!p->backward || !m->fwd_out || o.fwd_out[k]);
    }
    token_t *qt = malloc((size_t)(total + 1) * sizeof *qt);
    token_t *kt = malloc((size_t)(total + 1) * sizeof *kt);
    ok = ok && qt && kt;
    /* Scratch for the largest unit: nq x nk pairs, max(nq, nk) x D rows. */
    int64_t most_pairs = 0, most_rows = 0;
    for (int64_t u = 0; ok && u < p->units; ++u) {
        int64_t nq = unit_tokens(p, u, 0, qt), nk = unit_tokens(p, u, 1, kt);
        most_pairs = nq * nk > most_pairs ? nq * nk : most_pairs;
        most_rows = nq > most_rows ? nq : most_rows;
        most_rows = nk > most_rows ? nk : most_rows;
    }
    size_t pairs = (size_t)(most_pairs + 1), rows_d = (size_t)(most_rows * o.D + 1);
    double *P = NULL, *ZP = NULL;
    naive_scratch_t w = {0};
    if (model == CONF_ORACLE_EXACT) {
        P = malloc(pairs * sizeof *P);
        ZP = malloc(pairs * sizeof *ZP);
        ok = ok && P && ZP;
    } else {
        float **arrays[] = {&w.PR, &w.PZ, &w.DS, &w.QS, &w.ACC, &w.VS, &w.DK, &w.DV};
        for (int a = 0; a < 8; ++a)
            ok = ok && (*arrays[a] = malloc((a < 3 ? pairs : rows_d) * sizeof(float)));
        ok = ok && o.D <= CONF_ORACLE_MAX_D;
    }
    for (int64_t u = 0; ok && u < p->units; ++u) {
        int64_t nq = unit_tokens(p, u, 0, qt), nk = unit_tokens(p, u, 1, kt);
        for (int64_t g = 0; g < p->num_kv_heads; ++g) {
            if (model == CONF_ORACLE_NAIVE) {
                memset(w.DK, 0, rows_d * sizeof *w.DK);
                memset(w.DV, 0, rows_d * sizeof *w.DV);
            }
            for (int64_t h = g * o.r; h < (g + 1) * o.r; ++h) {
                if (model == CONF_ORACLE_EXACT)
                    exact_head(&o, u, h, qt, nq, kt, nk, P, ZP);
                else
                    naive_head(&o, u, h, qt, nq, kt, nk, &w);
            }
            if (model == CONF_ORACLE_NAIVE && p->backward) {
                const int64_t kc = (o.Hq + g) * o.D, vc = (o.Hq + p->num_kv_heads + g) * o.D;
                for (int64_t j = 0; j < nk; ++j)
                    for (int64_t d = 0; d < o.D; ++d) {
                        double *row = res->dqkv[kt[j].member] + kt[j].row * o.cols;
                        row[kc + d] = rd(&o, w.DK[j * o.D + d]);
                        row[vc + d] = rd(&o, w.DV[j * o.D + d]);
                    }
            }
        }
    }
    for (int k = 0; k < p->n; ++k) {
        free(o.qkv[k]);
        free(o.dout[k]);
        free(o.fwd_out[k]);
    }
    free(qt);
    free(kt);
    free(P);
    free(ZP);
    float *naive_arrays[] = {w.PR, w.PZ, w.DS, w.QS, w.ACC, w.VS, w.DK, w.DV};
    for (int a = 0; a < 8; ++a)
        free(naive_arrays[a]);
    if (!ok)
        conf_oracle_free(res);
    return ok ? 0 : -1;
}
