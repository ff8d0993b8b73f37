/*
 * backend.c: the CPU reference backend's entry in the registry (core/backend.h). It supports
 * everything in the SPEC, single rank or an emulated ring, and computes on host memory.
 */
#include "reference.h"

static pattnResult_t reference_supports(const pattn_problem_t *prob, int backward, int emulated)
{
    return pattnSuccess;
}

static int reference_owns_pointer(const void *ptr) { return 1; }

const pattn_backend_t pattn_reference_backend = {
    "reference", reference_supports, ref_forward, ref_backward, reference_owns_pointer, NULL,
};
