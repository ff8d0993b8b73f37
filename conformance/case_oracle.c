/*
 * case_oracle.c: the oracle models over a case (case_oracle.h).
 */
#include "case_oracle.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The oracle problem of the ring (in ring order, members[0..n)) under c's active strategy;
 * fails when the members' arrays do not add up (rows against lengths, packed totals). */
static int ring_problem(const conf_case_t *c, const int *members, int n,
                        conf_oracle_problem_t *op, conf_error_t *err)
{
    const conf_case_config_t *cfg = &c->cfg;
    const conf_pipeline_t *first = &c->pipes[members[0]];
    const int64_t D = cfg->head_dim, r = cfg->group_query_ratio;
    const int64_t *lens = cfg->seq_lens + (int64_t)cfg->strategy * cfg->num_pipelines;
    memset(op, 0, sizeof *op);
    op->dtype = cfg->dtype;
    op->head_dim = D;
    op->group_query_ratio = r;
    op->num_kv_heads = first->cols / D / (r + 2);
    op->is_causal = cfg->is_causal;
    op->packing = cfg->packing;
    op->backward = cfg->backward;
    op->units = cfg->packing ? first->num_seqs : 0;
    for (int k = 0; !cfg->packing && k < n; ++k) /* samples: from any member with tokens */
        if (lens[members[k]] > 0) {
            op->units = c->pipes[members[k]].rows / lens[members[k]];
            break;
        }
    op->scale = cfg->softmax_scale < 0 ? 1.0 / sqrt((double)D) : cfg->softmax_scale;
    op->p_dropout = cfg->p_dropout;
    op->seed = cfg->rng_seed;
    op->offset = cfg->rng_offset;
    op->split = cfg->split;
    op->n = n;
    for (int k = 0; k < n; ++k) {
        const conf_pipeline_t *pipe = &c->pipes[members[k]];
        const int64_t row = n > 1 ? (int64_t)k * (pipe->num_seqs + 1) : 0;
        const int32_t *cu_q = cfg->packing ? pipe->cu_seqlens_q + row : NULL;
        const int32_t *cu_k = cfg->packing ? pipe->cu_seqlens_k + row : NULL;
        int consistent = pipe->cols == first->cols &&
                         (cfg->packing ? pipe->num_seqs == first->num_seqs &&
                                             cu_q[pipe->num_seqs] == pipe->rows &&
                                             cu_k[pipe->num_seqs] == pipe->rows
                                       : pipe->rows == op->units * lens[members[k]]);
        if (!consistent)
            return conf_fail(err, "%s: pipeline %d's arrays do not match its ring's lengths, so "
                             "the oracle cannot place its tokens", c->name, members[k]);
        op->member[k] = (conf_oracle_member_t){pipe->rows, lens[members[k]], cu_q, cu_k,
                                               pipe->qkv, pipe->dout, NULL};
    }
    return 0;
}

void case_oracle_free(case_oracle_t *res)
{
    for (int p = 0; p < res->num_pipelines; ++p) {
        free(res->out[p]);
        free(res->lse[p]);
        free(res->dqkv[p]);
    }
    free(res->out);
    free(res->lse);
    free(res->dqkv);
    memset(res, 0, sizeof *res);
}

int case_oracle_compute(const conf_case_t *c, conf_oracle_model_t model, case_oracle_t *res,
                        conf_error_t *err)
{
    const int P = c->cfg.num_pipelines;
    memset(res, 0, sizeof *res);
    res->num_pipelines = P;
    res->out = calloc((size_t)P, sizeof *res->out);
    res->lse = calloc((size_t)P, sizeof *res->lse);
    res->dqkv = calloc((size_t)P, sizeof *res->dqkv);
    if (!res->out || !res->lse || !res->dqkv) {
        case_oracle_free(res);
        return conf_fail(err, "%s: out of memory for the oracle", c->name);
    }
    for (int p = 0; p < P; ++p) {
        int members[PATTN_MAX_RING], n, k;
        if (!c->pipes[p].present || res->out[p])
            continue;
        n = case_ring_members(&c->cfg, p, members);
        for (k = 0; k < n && c->pipes[members[k]].present; ++k)
            ;
        if (k < n) /* a member without inputs: nothing to compute for this ring */
            continue;
        conf_oracle_problem_t op;
        conf_oracle_result_t r;
        if (ring_problem(c, members, n, &op, err)) {
            case_oracle_free(res);
            return -1;
        }
        if (conf_oracle_compute(&op, model, &r)) {
            case_oracle_free(res);
            return conf_fail(err, "%s: the oracle is out of memory%s", c->name,
                             model == CONF_ORACLE_NAIVE && op.head_dim > CONF_ORACLE_MAX_D
                                 ? " (or head_dim is above the naive model's limit)" : "");
        }
        for (k = 0; k < n; ++k) {
            res->out[members[k]] = r.out[k];
            res->lse[members[k]] = r.lse[k];
            res->dqkv[members[k]] = r.dqkv[k];
        }
    }
    return 0;
}

double case_oracle_max_error(const double *a, const double *b, int64_t count)
{
    double worst = 0;
    for (int64_t i = 0; i < count; ++i) {
        double x = a[i], y = b[i];
        if ((isnan(x) && isnan(y)) || x == y)
            continue;
        double e = isnan(x) || isnan(y) ? INFINITY : fabs(x - y);
        worst = e > worst ? e : worst;
    }
    return worst;
}
