/*
 * stress_oracle.h: the float64 attention of SPEC sections 1-5 (conformance/oracle.h, written
 * from the SPEC alone) for a pattn-stress configuration, and the check of a run against it with
 * conformance's default tolerances.
 */
#ifndef PATTN_STRESS_ORACLE_H
#define PATTN_STRESS_ORACLE_H

#include <stddef.h>
#include <stdint.h>

#include "stress_case.h"

/* Number of output elements of r outside the tolerance of c's dtype (rng_state exact), or -1
 * when out of memory; the first one is described in why. */
int64_t stress_oracle_check(const stress_case_t *c, const stress_result_t *r, char *why,
                            size_t size);

#endif /* PATTN_STRESS_ORACLE_H */
