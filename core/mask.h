/*
 * mask.h: which (query, key) pairs are visible, for the host and the device alike. Every
 * executor asks these functions (the plan's block classes, the work items, the reference's tiles
 * and every CUDA kernel's masks); nothing else decides visibility.
 *
 * Positions are global (SPEC section 1). Within a unit, key position k is visible from query
 * position q unless the mask is causal and k > q + shift, shift = Nk - Nq of the unit
 * (bottom-right alignment). The rest are consequences of that one inequality, solved for the
 * side that is fixed: a tile of queries sees keys up to q + shift, a tile of keys is seen by
 * queries from k - shift.
 */
#ifndef PATTN_CORE_MASK_H
#define PATTN_CORE_MASK_H

#include <stdint.h>

#include "hd.h"

typedef enum { PATTN_MASK_EMPTY = 0, PATTN_MASK_FULL = 1, PATTN_MASK_CAUSAL = 2 } pattn_mask_t;

/* Which side a tile of rows holds: queries (the forward, dQ) or keys (dK/dV). */
typedef enum { PATTN_QUERY_MAJOR = 0, PATTN_KEY_MAJOR = 1 } pattn_orient_t;

/* The predicate: key kpos visible from query qpos under a causal mask with this shift. */
PATTN_HD int pattn_causal_sees(int64_t qpos, int64_t kpos, int64_t shift)
{
    return kpos <= qpos + shift;
}

/* The class of the pairs between queries [q0, q0 + nq) and keys [k0, k0 + nk). */
PATTN_HD pattn_mask_t pattn_pairs_mask(int causal, int64_t q0, int64_t nq, int64_t k0, int64_t nk,
                                       int64_t shift)
{
    if (nq <= 0 || nk <= 0)
        return PATTN_MASK_EMPTY;
    if (!causal || pattn_causal_sees(q0, k0 + nk - 1, shift))
        return PATTN_MASK_FULL; /* even the first query sees the last key */
    if (!pattn_causal_sees(q0 + nq - 1, k0, shift))
        return PATTN_MASK_EMPTY; /* even the last query sees no key */
    return PATTN_MASK_CAUSAL;
}

/* Whether key kpos is visible from query qpos in a block of class mask. */
PATTN_HD int pattn_visible(pattn_mask_t mask, int64_t qpos, int64_t kpos, int64_t shift)
{
    return mask == PATTN_MASK_FULL ||
           (mask == PATTN_MASK_CAUSAL && pattn_causal_sees(qpos, kpos, shift));
}

/*
 * The other side's positions, of its run [pos, pos + len), that a tile of rows [x0, x0 + nx)
 * (queries when o is QUERY_MAJOR, keys when KEY_MAJOR) meets: *lo .. *hi (empty when
 * *lo >= *hi). every = 0: visible from at least one row of the tile; every = 1: visible from
 * every row (so a stretch inside it needs no per-element mask). With nx = 1 this is the
 * visible range of one row. pattn_visible_span32 is the same function in 32-bit arithmetic for
 * the kernels (work items hold positions that fit in 32 bits, core/items.c).
 */
#define PATTN_DEFINE_VISIBLE_SPAN(NAME, T)                                                         \
    PATTN_HD void NAME(pattn_orient_t o, int causal, T shift, T x0, T nx, int every, T pos, T len, \
                       T *lo, T *hi)                                                               \
    {                                                                                              \
        *lo = pos;                                                                                 \
        *hi = pos + len;                                                                           \
        if (!causal || nx <= 0)                                                                    \
            return;                                                                                \
        if (o == PATTN_QUERY_MAJOR) { /* keys k <= q + shift, q the last (first) query */          \
            T q = every ? x0 : x0 + nx - 1;                                                        \
            if (q + shift + 1 < *hi)                                                               \
                *hi = q + shift + 1;                                                               \
        } else { /* queries q >= k - shift, k the first (last) key */                              \
            T k = every ? x0 + nx - 1 : x0;                                                        \
            if (k - shift > *lo)                                                                   \
                *lo = k - shift;                                                                   \
        }                                                                                          \
    }
PATTN_DEFINE_VISIBLE_SPAN(pattn_visible_span, int64_t)
PATTN_DEFINE_VISIBLE_SPAN(pattn_visible_span32, int32_t)
#undef PATTN_DEFINE_VISIBLE_SPAN

#endif /* PATTN_CORE_MASK_H */
