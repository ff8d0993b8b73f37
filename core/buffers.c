/*
 * buffers.c: the overlap checks of a call's arrays (buffers.h). Every output is compared with
 * every input and every other output; the message names both arrays (of two outputs, the one
 * listed later first) and their byte ranges.
 */
#include "buffers.h"

#include <stdio.h>

#include "dtype.h"
#include "status.h"

#define MAX_BUFFERS (7 * PATTN_MAX_RING)

typedef struct buffer {
    const char *name;
    int index; /* ring member, or -1 for a single-rank call's one array */
    const void *ptr;
    size_t bytes;
    int output;
} buffer_t;

typedef struct buffer_list {
    buffer_t b[MAX_BUFFERS];
    int count;
} buffer_list_t;

static void add(buffer_list_t *l, const char *name, int index, const void *ptr, int64_t bytes,
                int output)
{
    if (ptr && bytes > 0)
        l->b[l->count++] = (buffer_t){name, index, ptr, (size_t)bytes, output};
}

static int overlap(const buffer_t *a, const buffer_t *b)
{
    uintptr_t pa = (uintptr_t)a->ptr, pb = (uintptr_t)b->ptr;
    return pa < pb + b->bytes && pb < pa + a->bytes;
}

static const char *label(const buffer_t *b, char *buf, size_t size)
{
    if (b->index < 0)
        snprintf(buf, size, "%s", b->name);
    else
        snprintf(buf, size, "%s[%d]", b->name, b->index);
    return buf;
}

static pattnResult_t check(const buffer_list_t *l)
{
    for (int i = 0; i < l->count; ++i)
        for (int j = 0; j < l->count; ++j) {
            const buffer_t *o = &l->b[i], *x = &l->b[j];
            if (!o->output || i == j || (x->output && j > i) || !overlap(o, x))
                continue;
            char a[48], b[48];
            return pattn_error(pattnInvalidArgument,
                               "%s = %p (%zu bytes) overlaps %s = %p (%zu bytes): outputs must "
                               "not overlap the inputs or each other",
                               label(o, a, sizeof a), o->ptr, o->bytes, label(x, b, sizeof b),
                               x->ptr, x->bytes);
        }
    return pattnSuccess;
}

/* qkv, out and softmax_lse of the call's i-th member (ring member k, or this rank), each an
 * input, or out and softmax_lse outputs (a forward). */
static int add_member(buffer_list_t *l, const pattn_problem_t *p, int emulated, int i,
                      const void *qkv, const void *out, const float *lse, int forward)
{
    int k = (emulated ? 0 : p->me) + i, at = emulated ? k : -1;
    int64_t es = (int64_t)pattn_dtype_size(p->dtype);
    add(l, "qkv", at, qkv, p->rows[k] * p->qkv_cols * es, 0);
    add(l, "out", at, out, p->rows[k] * p->out_cols * es, forward);
    add(l, "softmax_lse", at, lse, pattn_lse_elems(p, k) * 4, forward);
    return k;
}

pattnResult_t pattn_check_forward_buffers(const pattn_problem_t *p, int emulated,
                                          const void *const *qkv, void *const *out,
                                          float *const *lse, float *const *softmax,
                                          const int64_t *rng_state)
{
    buffer_list_t l = {.count = 0};
    int n = emulated ? p->n : 1;
    for (int i = 0; i < n; ++i) {
        int k = add_member(&l, p, emulated, i, qkv[i], out[i], lse[i], 1);
        if (softmax)
            add(&l, "softmax", emulated ? k : -1, softmax[i],
                pattn_num_units(p) * p->Hq * pattn_member_lq(p, k) * p->sm_nk * 4, 1);
    }
    add(&l, emulated ? "rng_states" : "rng_state", -1, rng_state, 16 * n, 1);
    return check(&l);
}

pattnResult_t pattn_check_backward_buffers(const pattn_problem_t *p, int emulated,
                                           const void *const *qkv, const void *const *out,
                                           const float *const *lse, const void *const *dout,
                                           void *const *dqkv)
{
    buffer_list_t l = {.count = 0};
    int64_t es = (int64_t)pattn_dtype_size(p->dtype);
    for (int i = 0; i < (emulated ? p->n : 1); ++i) {
        int k = add_member(&l, p, emulated, i, qkv[i], out[i], lse[i], 0);
        add(&l, "dout", emulated ? k : -1, dout[i], p->rows[k] * p->out_cols * es, 0);
        add(&l, "dqkv", emulated ? k : -1, dqkv[i], p->rows[k] * p->qkv_cols * es, 1);
    }
    return check(&l);
}
