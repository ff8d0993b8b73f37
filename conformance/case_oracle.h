/*
 * case_oracle.h: the oracle models (oracle.h) over a case (case.h): every ring of the active
 * strategy computed once, its members' arrays handed to their pipelines; and, for a --random
 * draw, the float64 expectations with FlashAttention's baselines measured from the naive model.
 */
#ifndef CONF_CASE_ORACLE_H
#define CONF_CASE_ORACLE_H

#include "case.h"
#include "oracle.h"

/* Per pipeline (NULL where the pipeline is absent): out, lse and (backward) dqkv in the layouts
 * of oracle.h. */
typedef struct case_oracle {
    int num_pipelines;
    double **out, **lse, **dqkv;
} case_oracle_t;

/* Runs model over every ring of c's active strategy into res (free with case_oracle_free). */
int case_oracle_compute(const conf_case_t *c, conf_oracle_model_t model, case_oracle_t *res,
                        conf_error_t *err);
void case_oracle_free(case_oracle_t *res);

/* max |a - b| over count elements: 0 where both are NaN or equal (infinities included), infinite
 * where only one is NaN. */
double case_oracle_max_error(const double *a, const double *b, int64_t count);

#endif /* CONF_CASE_ORACLE_H */
