/*
 * ring_calls.h: the ring's forward (ring_forward.c) and backward (ring_backward.c) of one member,
 * as the ring backend (backend.c) calls them.
 */
#ifndef PATTN_DIST_RING_CALLS_H
#define PATTN_DIST_RING_CALLS_H

#include "rank.h"
#include "ring.h"

pattnResult_t pattn_ring_forward(const pattn_problem_t *p, pattn_rng_t rng,
                                 const pattn_fwd_io_t *io);
pattnResult_t pattn_ring_backward(const pattn_problem_t *p, pattn_rng_t rng,
                                  const pattn_bwd_io_t *io);

#endif /* PATTN_DIST_RING_CALLS_H */
