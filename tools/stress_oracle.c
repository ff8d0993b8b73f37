/*
 * stress_oracle.c: the float64 oracle of pattn-stress (stress_oracle.h): conformance/oracle.h's
 * exact model over a pattn-stress configuration, with the backward's D = rowsum(dout * out)
 * taken from the forward's output as the run returned it, rounded to the dtype: the backward's
 * inputs are what the forward returned (SPEC section 5), and for fp16 and bf16 that rounding
 * alone moves dq and dk by more than their tolerance.
 */
#include "stress_oracle.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "oracle.h"
#include "tolerance.h"

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

static int64_t check_against(const stress_case_t *c, const conf_oracle_result_t *o,
                             const stress_result_t *r, char *why, size_t size)
{
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
    conf_oracle_problem_t op = {p->dtype, p->head_dim, p->group_query_ratio, c->Hkv,
                                p->is_causal, p->packing, c->backward,
                                p->packing ? c->num_seqs : c->batch,
                                p->softmax_scale < 0 ? 1.0 / sqrt((double)p->head_dim)
                                                     : p->softmax_scale,
                                p->p_dropout, c->gen.seed, c->gen.offset, p->split, c->n, {{0}}};
    for (int k = 0; k < c->n; ++k)
        op.member[k] = (conf_oracle_member_t){c->rows[k], c->seq_lens[k],
                                              c->cu_q + k * (c->num_seqs + 1),
                                              c->cu_k + k * (c->num_seqs + 1), c->qkv[k],
                                              c->dout[k], r->out[k]};
    conf_oracle_result_t o;
    if (conf_oracle_compute(&op, CONF_ORACLE_EXACT, &o))
        return -1;
    int64_t bad = check_against(c, &o, r, why, size);
    conf_oracle_free(&o);
    return bad;
}
