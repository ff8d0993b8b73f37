/*
 * attend.c: the step executor. For one query tile of member k, one query head h and one ring
 * step, it runs FlashAttention's online softmax over the key tiles of that step's blocks (K/V of
 * member j = pattn_step_kv_member(k, t), KV head h / r, never expanded):
 *   S = scale Q K^T (masked -inf), running row max m and sum l (before dropout),
 *   P = exp(S - m), dropped entries zeroed, O = O * exp(m_old - m) + P V,
 * and ends with the step's normalised partial O * keep_scale / l and lse = m + log l.
 */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "fast_exp.h"
#include "reference.h"

typedef struct step {
    const ref_ctx_t *c;
    ref_work_t *w;
    int64_t h;
} step_t;

/* Folds the probabilities of rows 0..m-1 of w->s (n keys, masked -inf) into the running max,
 * sum and output of the tile, and leaves P (dropped entries zeroed) in w->s. */
static void online_softmax(const step_t *st, const ref_pair_t *pair)
{
    const pattn_problem_t *p = st->c->p;
    ref_work_t *w = st->w;
    int64_t m = pair->q.len, n = pair->k.len, D = p->D;
    int dropout = p->p_dropout > 0;
    for (int64_t i = 0; i < m; ++i) {
        float *s = w->s + i * REF_BC;
        float mx = ref_row_max(s, n);
        if (mx == -INFINITY) { /* no visible key in this pair: P row 0, state unchanged */
            memset(s, 0, (size_t)n * sizeof *s);
            continue;
        }
        float m_new = w->m[i] > mx ? w->m[i] : mx;
        float corr = ref_exp(w->m[i] - m_new);
        w->l[i] = w->l[i] * corr + ref_row_exp(s, n, m_new);
        w->m[i] = m_new;
        if (corr != 1.0f)
            ref_row_scale(w->o + i * D, D, corr);
        if (dropout)
            ref_row_dropout(s, s, w->keep + i * REF_BC, n, p->keep_threshold, 1.0f);
    }
}

/* One (query tile x key tile) pair of the step. */
static void attend_pair(void *user, const ref_pair_t *pair)
{
    const step_t *st = user;
    const pattn_problem_t *p = st->c->p;
    ref_work_t *w = st->w;
    int64_t D = p->D, g = st->h / p->r, row = ref_tile_qkv_row(p, &pair->k);
    const void *kv = st->c->qkv[pair->k.member];
    ref_load_rows(p->dtype, kv, p->qkv_cols, row, pair->k.len, (p->Hq + g) * D, D, w->k);
    ref_load_rows(p->dtype, kv, p->qkv_cols, row, pair->k.len, (p->Hq + p->Hkv + g) * D, D, w->v);
    ref_scores(st->c, w, pair);
    if (p->p_dropout > 0)
        ref_dropout_bytes(st->c, w, pair, st->h);
    online_softmax(st, pair);
    ref_sgemm(CblasNoTrans, CblasNoTrans, (int)pair->q.len, (int)D,
                (int)pair->k.len, 1.0f, w->s, REF_BC, w->v, (int)D, 1.0f, w->o, (int)D);
}

void ref_attend_step(const ref_ctx_t *c, ref_work_t *w, const ref_tile_t *q, int64_t h, int t)
{
    const pattn_problem_t *p = c->p;
    int64_t D = p->D;
    for (int64_t i = 0; i < q->len; ++i) {
        w->m[i] = -INFINITY;
        w->l[i] = 0.0f;
    }
    memset(w->o, 0, (size_t)(q->len * D) * sizeof *w->o);
    step_t st = {c, w, h};
    ref_for_each_key_tile(c, q, t, attend_pair, &st);
    for (int64_t i = 0; i < q->len; ++i) {
        float *part = w->part + i * D;
        if (w->l[i] != 0.0f) { /* a NaN sum (a NaN or +inf score) propagates */
            float f = p->keep_scale / w->l[i];
            for (int64_t x = 0; x < D; ++x)
                part[x] = w->o[i * D + x] * f;
            w->part_lse[i] = w->m[i] + logf(w->l[i]);
        } else {
            memset(part, 0, (size_t)D * sizeof *part);
            w->part_lse[i] = -INFINITY;
        }
    }
}
