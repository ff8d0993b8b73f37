/*
 * test_api_bad_input.c: every public entry point rejects bad input with the right status, a
 * message naming the parameter and its bad value, every output byte untouched, and the dropout
 * generator not advanced.
 *
 * Each test starts from a valid call (one of four set-ups, checked valid by the control tests at
 * the end), changes one thing, and calls one entry point. The defaults use p_dropout > 0 and
 * return_softmax = 1, so a call that wrongly went ahead would write the softmax and advance the
 * generator.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "parallel_attn.h"
#include "test_api_util.h"

#define MAX_MEMBERS 2
#define MAX_ELEMS 2048 /* per buffer, more than any set-up needs */

enum setup_kind { SINGLE, RING, PACKED, RING_PACKED };
enum entry { FORWARD, BACKWARD, FORWARD_EMULATED, BACKWARD_EMULATED, QUERY_SHAPES };

/* Everything a call writes; poisoned with 0xFF before it and checked byte by byte after it. */
typedef struct outputs {
    float out[MAX_MEMBERS][MAX_ELEMS];
    float lse[MAX_MEMBERS][MAX_ELEMS];
    float softmax[MAX_MEMBERS][MAX_ELEMS];
    float dqkv[MAX_MEMBERS][MAX_ELEMS];
    int64_t rng_states[2 * MAX_MEMBERS];
    pattnShapes_t shapes;
} outputs_t;

typedef struct call {
    pattnParams_t params;
    int64_t seq_lens[2 * 3], cp_groups[2 * 3]; /* 2 strategies x 3 pipelines */
    int32_t cu_q[MAX_MEMBERS * 4], cu_k[MAX_MEMBERS * 4];
    float qkv[MAX_MEMBERS][MAX_ELEMS], dout[MAX_MEMBERS][MAX_ELEMS];
    int64_t rng_in[2 * MAX_MEMBERS]; /* the backward's input: a forward's [seed, offset] */
    pattnGenerator_t gens[MAX_MEMBERS];
    outputs_t o;

    /* The arguments actually passed; a test may replace any of them. */
    const pattnParams_t *params_arg;
    pattnGenerator_t *gen_arg;
    const void *qkv_ptr[MAX_MEMBERS], *dout_ptr[MAX_MEMBERS], *out_in_ptr[MAX_MEMBERS];
    const float *lse_in_ptr[MAX_MEMBERS];
    void *out_ptr[MAX_MEMBERS], *dqkv_ptr[MAX_MEMBERS];
    float *lse_ptr[MAX_MEMBERS], *softmax_ptr[MAX_MEMBERS];
    const void *const *qkv_arg;
    void *const *out_arg;
    float *const *lse_arg;
    float *const *softmax_arg;
    const void *const *dout_arg;
    void *const *dqkv_arg;
    int64_t *rng_out_arg;
    const int64_t *rng_in_arg;
    pattnShapes_t *shapes_arg;
    char value[64]; /* room for a value string computed by a test */
} call_t;

static call_t the_call;

/*
 * The valid starting points (2 strategies x 3 pipelines, D = 16, r = 2, Hkv = 1, cols = 64):
 *   SINGLE       strategy 0, pipeline 2: a ring of one, L = 4, B = 2
 *   RING         strategy 0, pipeline 1: ring {0, 1} with L = 5, 3, B = 2
 *   PACKED       pipeline 2 packed: T = 4 tokens in 3 sequences, cu_q != cu_k
 *   RING_PACKED  pipeline 1 packed in ring {0, 1}: T = 5, 3, 3 sequences of global lengths 3, 1, 4
 */
static call_t *setup(enum setup_kind kind)
{
    call_t *c = &the_call;
    memset(c, 0, sizeof *c);
    uint64_t rng = api_rng_fresh();
    static const int64_t lens[2 * 3] = {5, 3, 4, 4, 4, 4}, groups[2 * 3] = {0, 0, 1, 0, 1, 2};
    memcpy(c->seq_lens, lens, sizeof lens);
    memcpy(c->cp_groups, groups, sizeof groups);
    pattnParams_t init = PATTN_PARAMS_INIT;
    c->params = init;
    pattnParams_t *p = &c->params;
    p->dtype = PATTN_FP32;
    p->head_dim = 16;
    p->group_query_ratio = 2;
    p->cols = (2 + 2) * 16;
    p->num_strategies = 2;
    p->num_pipelines = 3;
    p->seq_lens = c->seq_lens;
    p->cp_groups = c->cp_groups;
    p->strategy = 0;
    p->p_dropout = 0.25;
    p->return_softmax = 1;
    int ring = kind == RING || kind == RING_PACKED;
    p->pipeline = ring ? 1 : 2;
    if (kind == PACKED || kind == RING_PACKED) {
        static const int32_t single_q[4] = {0, 1, 3, 4}, single_k[4] = {0, 2, 2, 4};
        static const int32_t ring_cu[2 * 4] = {0, 2, 2, 5, 0, 1, 2, 3};
        memcpy(c->cu_q, ring ? ring_cu : single_q, (ring ? 8 : 4) * sizeof(int32_t));
        memcpy(c->cu_k, ring ? ring_cu : single_k, (ring ? 8 : 4) * sizeof(int32_t));
        p->packing = 1;
        p->num_seqs = 3;
        p->cu_seqlens_q = c->cu_q;
        p->cu_seqlens_k = c->cu_k;
        p->rows = ring ? 3 : 4;
        p->max_seqlen_q = ring ? 3 : 2;
        p->max_seqlen_k = ring ? 4 : 2;
    } else {
        p->rows = 2 * (ring ? 3 : 4);
    }
    for (int k = 0; k < MAX_MEMBERS; ++k) {
        api_fill_random(&rng, PATTN_FP32, c->qkv[k], MAX_ELEMS, -1, 1);
        api_fill_random(&rng, PATTN_FP32, c->dout[k], MAX_ELEMS, -1, 1);
        c->gens[k] = (pattnGenerator_t){0x1234567, 640};
        c->rng_in[2 * k] = 0x1234567;
        c->rng_in[2 * k + 1] = 640;
    }
    api_poison(&c->o, sizeof c->o);

    c->params_arg = p;
    c->gen_arg = c->gens;
    for (int k = 0; k < MAX_MEMBERS; ++k) {
        c->qkv_ptr[k] = c->qkv[k];
        c->dout_ptr[k] = c->dout[k];
        c->out_in_ptr[k] = c->o.out[k];
        c->lse_in_ptr[k] = c->o.lse[k];
        c->out_ptr[k] = c->o.out[k];
        c->dqkv_ptr[k] = c->o.dqkv[k];
        c->lse_ptr[k] = c->o.lse[k];
        c->softmax_ptr[k] = c->o.softmax[k];
    }
    c->qkv_arg = c->qkv_ptr;
    c->out_arg = c->out_ptr;
    c->lse_arg = c->lse_ptr;
    c->softmax_arg = c->softmax_ptr;
    c->dout_arg = c->dout_ptr;
    c->dqkv_arg = c->dqkv_ptr;
    c->rng_out_arg = c->o.rng_states;
    c->rng_in_arg = c->rng_in;
    c->shapes_arg = &c->o.shapes;
    return c;
}

/* Calls entry e with c's arguments. Single-rank entries get the first element of each array. */
static pattnResult_t call_entry(call_t *c, enum entry e)
{
    switch (e) {
    case FORWARD:
        return pattnForward(NULL, c->params_arg, c->gen_arg, c->qkv_arg ? c->qkv_arg[0] : NULL,
                            c->out_arg ? c->out_arg[0] : NULL, c->lse_arg ? c->lse_arg[0] : NULL,
                            c->rng_out_arg, c->softmax_arg ? c->softmax_arg[0] : NULL);
    case BACKWARD:
        return pattnBackward(NULL, c->params_arg, c->qkv_arg ? c->qkv_arg[0] : NULL,
                             c->out_in_ptr[0], c->lse_in_ptr[0], c->rng_in_arg,
                             c->dout_arg ? c->dout_arg[0] : NULL,
                             c->dqkv_arg ? c->dqkv_arg[0] : NULL);
    case FORWARD_EMULATED:
        return pattnForwardEmulated(c->params_arg, c->gen_arg, c->qkv_arg, c->out_arg, c->lse_arg,
                                    c->rng_out_arg, c->softmax_arg, NULL);
    case BACKWARD_EMULATED:
        return pattnBackwardEmulated(c->params_arg, c->qkv_arg, c->out_in_ptr, c->lse_in_ptr,
                                     c->rng_in_arg, c->dout_arg, c->dqkv_arg);
    case QUERY_SHAPES:
        return pattnQueryShapes(c->params_arg, c->shapes_arg);
    }
    return pattnInternalError;
}

/* The call must fail with `want`, name `name` and `value` in its message, write nothing, and
 * leave the generators as they were. */
static void expect_rejected(call_t *c, enum entry e, pattnResult_t want, const char *name,
                            const char *value)
{
    pattnGenerator_t gens_before[MAX_MEMBERS];
    memcpy(gens_before, c->gens, sizeof gens_before);
    /* Leave an unrelated message behind, so a call that sets none cannot pass on a stale one. */
    cr_assert_eq(pattnCreate(NULL, PATTN_BACKEND_AUTO), pattnInvalidArgument);
    cr_assert_null(strstr(pattnGetLastError(), name), "priming message already names %s", name);

    pattnResult_t got = call_entry(c, e);
    const char *msg = pattnGetLastError();
    cr_assert_eq(got, want, "status %d (%s), expected %d (%s); message: \"%s\"", (int)got,
                 pattnGetErrorString(got), (int)want, pattnGetErrorString(want), msg);
    cr_assert_not_null(strstr(msg, name), "message does not name the parameter \"%s\": \"%s\"",
                       name, msg);
    cr_assert_not_null(strstr(msg, value), "message does not give the value \"%s\": \"%s\"",
                       value, msg);
    const unsigned char *bytes = (const unsigned char *)&c->o;
    for (size_t i = 0; i < sizeof c->o; ++i)
        cr_assert_eq(bytes[i], 0xFF, "output byte %zu of %zu was written by a rejected call", i,
                     sizeof c->o);
    for (int k = 0; k < MAX_MEMBERS; ++k)
        cr_assert(gens_before[k].seed == c->gens[k].seed &&
                      gens_before[k].offset == c->gens[k].offset,
                  "generator %d moved from {%llu, %llu} to {%llu, %llu} in a rejected call", k,
                  (unsigned long long)gens_before[k].seed,
                  (unsigned long long)gens_before[k].offset, (unsigned long long)c->gens[k].seed,
                  (unsigned long long)c->gens[k].offset);
}

/* One test: start from set-up `kind`, apply the statements, expect the rejection. */
#define REJECTS(test_name, kind, entry, status, name, value, ...)                                 \
    Test(bad_input, test_name)                                                                     \
    {                                                                                              \
        call_t *c = setup(kind);                                                                   \
        __VA_ARGS__;                                                                               \
        expect_rejected(c, entry, status, name, value);                                            \
    }

#define INVALID pattnInvalidArgument

/* ---------------------------------------------------------------- the struct and scalars */
REJECTS(null_params, SINGLE, FORWARD, INVALID, "params", "NULL", c->params_arg = NULL)
REJECTS(null_params_backward, SINGLE, BACKWARD, INVALID, "params", "NULL", c->params_arg = NULL)
REJECTS(null_params_query, SINGLE, QUERY_SHAPES, INVALID, "params", "NULL", c->params_arg = NULL)
REJECTS(wrong_size, SINGLE, FORWARD, INVALID, "params.size", c->value,
        c->params.size -= 8; snprintf(c->value, sizeof c->value, "= %zu", c->params.size))
REJECTS(wrong_version, SINGLE, FORWARD, INVALID, "params.version", "= 99",
        c->params.version = 99)
REJECTS(bad_dtype, SINGLE, FORWARD, INVALID, "dtype", "= 7", c->params.dtype = (pattnDtype_t)7)
REJECTS(head_dim_0, SINGLE, FORWARD, INVALID, "head_dim", "= 0", c->params.head_dim = 0)
REJECTS(head_dim_12, SINGLE, FORWARD, INVALID, "head_dim", "= 12", c->params.head_dim = 12;
        c->params.cols = 4 * 12)
REJECTS(head_dim_264, SINGLE, FORWARD, INVALID, "head_dim", "= 264", c->params.head_dim = 264;
        c->params.cols = 4 * 264)
REJECTS(group_query_ratio_0, SINGLE, FORWARD, INVALID, "group_query_ratio", "= 0",
        c->params.group_query_ratio = 0)
REJECTS(cols_not_multiple_of_head_dim, SINGLE, FORWARD, INVALID, "cols", "= 70",
        c->params.cols = 70)
REJECTS(heads_not_multiple_of_r_plus_2, SINGLE, FORWARD, INVALID, "cols", "= 80",
        c->params.cols = 5 * 16)
REJECTS(rows_not_multiple_of_local_length, SINGLE, FORWARD, INVALID, "rows", "= 7",
        c->params.rows = 7)
REJECTS(rows_zero, SINGLE, FORWARD, INVALID, "rows", "= 0", c->params.rows = 0)
REJECTS(rows_negative, SINGLE, FORWARD, INVALID, "rows", "= -8", c->params.rows = -8)
REJECTS(p_dropout_negative, SINGLE, FORWARD, INVALID, "p_dropout", "= -0.1",
        c->params.p_dropout = -0.1)
REJECTS(p_dropout_one, SINGLE, FORWARD, INVALID, "p_dropout", "= 1", c->params.p_dropout = 1.0)
REJECTS(p_dropout_nan, SINGLE, FORWARD, INVALID, "p_dropout", "nan", c->params.p_dropout = NAN)
REJECTS(softmax_scale_nan, SINGLE, FORWARD, INVALID, "softmax_scale", "nan",
        c->params.softmax_scale = NAN)
REJECTS(softmax_scale_inf, SINGLE, FORWARD, INVALID, "softmax_scale", "inf",
        c->params.softmax_scale = INFINITY)
REJECTS(is_causal_2, SINGLE, FORWARD, INVALID, "is_causal", "= 2", c->params.is_causal = 2)
REJECTS(return_softmax_2, SINGLE, FORWARD, INVALID, "return_softmax", "= 2",
        c->params.return_softmax = 2)
REJECTS(packing_2, SINGLE, FORWARD, INVALID, "packing", "= 2", c->params.packing = 2)
REJECTS(deterministic_3, SINGLE, BACKWARD, INVALID, "deterministic", "= 3",
        c->params.deterministic = 3)
REJECTS(split_7, RING, FORWARD_EMULATED, INVALID, "split", "= 7",
        c->params.split = (pattnSplit_t)7)
REJECTS(split_negative, RING, FORWARD_EMULATED, INVALID, "split", "= -1",
        c->params.split = (pattnSplit_t)-1)

/* ---------------------------------------------------------------- strategies and pipelines */
REJECTS(strategy_negative, SINGLE, FORWARD, INVALID, "strategy", "= -1", c->params.strategy = -1)
REJECTS(strategy_too_large, SINGLE, FORWARD, INVALID, "strategy", "= 2", c->params.strategy = 2)
REJECTS(pipeline_negative, SINGLE, FORWARD, INVALID, "pipeline", "= -1", c->params.pipeline = -1)
REJECTS(pipeline_too_large, SINGLE, FORWARD, INVALID, "pipeline", "= 3", c->params.pipeline = 3)
REJECTS(num_strategies_0, SINGLE, FORWARD, INVALID, "num_strategies", "= 0",
        c->params.num_strategies = 0)
REJECTS(num_pipelines_0, SINGLE, FORWARD, INVALID, "num_pipelines", "= 0",
        c->params.num_pipelines = 0)
REJECTS(null_seq_lens, SINGLE, FORWARD, INVALID, "seq_lens", "NULL", c->params.seq_lens = NULL)
REJECTS(null_cp_groups, SINGLE, FORWARD, INVALID, "cp_groups", "NULL",
        c->params.cp_groups = NULL)
/* A negative length in the strategy not in use is still an error. */
REJECTS(negative_seq_len_other_strategy, SINGLE, FORWARD, INVALID, "seq_lens[1][2]", "= -7",
        c->seq_lens[1 * 3 + 2] = -7)
REJECTS(zero_local_length, SINGLE, FORWARD, INVALID, "seq_lens[0][2]", "= 0",
        c->seq_lens[0 * 3 + 2] = 0)
REJECTS(zero_length_of_other_ring_member, RING, FORWARD_EMULATED, INVALID, "seq_lens[0][0]",
        "= 0", c->seq_lens[0] = 0)
/* B * L of a member would overflow int64 (B = 2 here). */
REJECTS(huge_length_of_other_ring_member, RING, FORWARD_EMULATED, INVALID, "seq_lens[0][0]",
        "= 4611686018427387904", c->seq_lens[0] = (int64_t)1 << 62)

/* ---------------------------------------------------------------- packing */
REJECTS(num_seqs_0, PACKED, FORWARD, INVALID, "num_seqs", "= 0", c->params.num_seqs = 0)
REJECTS(null_cu_seqlens_q, PACKED, FORWARD, INVALID, "cu_seqlens_q", "NULL",
        c->params.cu_seqlens_q = NULL)
REJECTS(null_cu_seqlens_k, PACKED, FORWARD, INVALID, "cu_seqlens_k", "NULL",
        c->params.cu_seqlens_k = NULL)
REJECTS(cu_seqlens_not_starting_at_0, PACKED, FORWARD, INVALID, "cu_seqlens_q[0][0]", "= 1",
        c->cu_q[0] = 1)
REJECTS(cu_seqlens_decreasing, PACKED, FORWARD, INVALID, "cu_seqlens_k[0][2]", "= 1",
        c->cu_k[2] = 1; c->cu_k[1] = 3)
REJECTS(cu_seqlens_not_ending_at_T, PACKED, FORWARD, INVALID, "cu_seqlens_q[0][3]", "= 3",
        c->cu_q[3] = 3)
REJECTS(cu_seqlens_of_other_member_not_ending_at_T, RING_PACKED, FORWARD_EMULATED, INVALID,
        "cu_seqlens_q[0][3]", "= 4", c->cu_q[3] = 4; c->cu_k[3] = 4)
REJECTS(cu_seqlens_q_differs_from_k_in_a_ring, RING_PACKED, FORWARD_EMULATED, INVALID,
        "cu_seqlens_k[1][1]", "= 0", c->cu_k[4 + 1] = 0)
REJECTS(max_seqlen_q_too_small, PACKED, FORWARD, INVALID, "max_seqlen_q", "= 1",
        c->params.max_seqlen_q = 1)
REJECTS(max_seqlen_k_too_small, PACKED, FORWARD, INVALID, "max_seqlen_k", "= 1",
        c->params.max_seqlen_k = 1)
/* In a ring max_seqlen_k bounds the global key length (4), not the longest local piece (3). */
REJECTS(max_seqlen_k_below_global_length, RING_PACKED, FORWARD_EMULATED, INVALID,
        "max_seqlen_k", "= 3", c->params.max_seqlen_k = 3)
REJECTS(packed_rows_differ_from_tokens, PACKED, FORWARD, INVALID, "rows", "= 5",
        c->params.rows = 5)

/* ---------------------------------------------------------------- arrays and the generator */
REJECTS(null_qkv, SINGLE, FORWARD, INVALID, "qkv", "NULL", c->qkv_arg = NULL)
REJECTS(null_out, SINGLE, FORWARD, INVALID, "out", "NULL", c->out_arg = NULL)
REJECTS(null_softmax_lse, SINGLE, FORWARD, INVALID, "softmax_lse", "NULL", c->lse_arg = NULL)
REJECTS(null_rng_state, SINGLE, FORWARD, INVALID, "rng_state", "NULL", c->rng_out_arg = NULL)
REJECTS(return_softmax_with_null_softmax, SINGLE, FORWARD, INVALID, "softmax", "softmax = NULL",
        c->softmax_arg = NULL)
REJECTS(dropout_with_null_generator, SINGLE, FORWARD, INVALID, "gen", "NULL", c->gen_arg = NULL)
/* Valid parameters, but the reference runs a ring of 2 only emulated: nothing to change. */
REJECTS(ring_through_single_rank_forward, RING, FORWARD, pattnUnsupported, "pipeline 1",
        "ring of 2", (void)c)
REJECTS(ring_through_single_rank_backward, RING, BACKWARD, pattnUnsupported, "pipeline 1",
        "ring of 2", (void)c)
REJECTS(backward_null_dout, SINGLE, BACKWARD, INVALID, "dout", "NULL", c->dout_arg = NULL)
REJECTS(backward_null_dqkv, SINGLE, BACKWARD, INVALID, "dqkv", "NULL", c->dqkv_arg = NULL)
REJECTS(backward_null_rng_state_with_dropout, SINGLE, BACKWARD, INVALID, "rng_state", "NULL",
        c->rng_in_arg = NULL)
REJECTS(query_shapes_null_shapes, SINGLE, QUERY_SHAPES, INVALID, "shapes", "NULL",
        c->shapes_arg = NULL)
REJECTS(query_shapes_bad_head_dim, RING, QUERY_SHAPES, INVALID, "head_dim", "= 12",
        c->params.head_dim = 12)

/* ---------------------------------------------------------------- the emulated ring */
REJECTS(emulated_generators_differ, RING, FORWARD_EMULATED, pattnMismatch, "gens[1]",
        "offset 12345", c->gens[1].offset = 12345)
REJECTS(emulated_generator_seeds_differ, RING_PACKED, FORWARD_EMULATED, pattnMismatch, "gens[1]",
        "seed 77", c->gens[1].seed = 77)
REJECTS(emulated_null_generators_with_dropout, RING, FORWARD_EMULATED, INVALID, "gens", "NULL",
        c->gen_arg = NULL)
REJECTS(emulated_null_qkv_array, RING, FORWARD_EMULATED, INVALID, "qkv", "NULL",
        c->qkv_arg = NULL)
REJECTS(emulated_null_qkv_of_member_1, RING, FORWARD_EMULATED, INVALID, "qkv[1]", "NULL",
        c->qkv_ptr[1] = NULL)
REJECTS(emulated_null_out_of_member_0, RING_PACKED, FORWARD_EMULATED, INVALID, "out[0]", "NULL",
        c->out_ptr[0] = NULL)
REJECTS(emulated_null_softmax_with_return_softmax, RING, FORWARD_EMULATED, INVALID, "softmax",
        "softmax = NULL", c->softmax_arg = NULL)
REJECTS(emulated_null_rng_states, RING, FORWARD_EMULATED, INVALID, "rng_states", "NULL",
        c->rng_out_arg = NULL)
REJECTS(emulated_backward_rng_states_differ, RING, BACKWARD_EMULATED, pattnMismatch,
        "rng_states[1]", "641", c->rng_in[3] = 641)
REJECTS(emulated_backward_null_dout_of_member_1, RING, BACKWARD_EMULATED, INVALID, "dout[1]",
        "NULL", c->dout_ptr[1] = NULL)
REJECTS(emulated_backward_null_dqkv_array, RING_PACKED, BACKWARD_EMULATED, INVALID, "dqkv",
        "NULL", c->dqkv_arg = NULL)

/* ---------------------------------------------------------------- limits: fp32, int64, work */
/* 1e300 is a finite double, but +inf in the kernels' fp32: every output would be 0. */
REJECTS(softmax_scale_beyond_fp32, SINGLE, FORWARD, INVALID, "softmax_scale", "= 1e+300",
        c->params.softmax_scale = 1e300)
/* r + 2 overflows: the message carries r itself, not a wrapped sum (UBSan aborted here). */
REJECTS(group_query_ratio_int64_max, SINGLE, FORWARD, INVALID, "group_query_ratio",
        "= 9223372036854775807", c->params.group_query_ratio = INT64_MAX)
/* num_seqs + 1 overflows an int. */
REJECTS(num_seqs_int_max, PACKED, FORWARD, INVALID, "num_seqs", "= 2147483647",
        c->params.num_seqs = INT32_MAX)
/* 2^40 rows of 2^36 columns: 2^76 elements (the arrays are never read). */
REJECTS(qkv_elements_beyond_int64, SINGLE, QUERY_SHAPES, INVALID, "cols", "= 68719476736",
        c->seq_lens[2] = (int64_t)1 << 40; c->params.rows = (int64_t)1 << 40;
        c->params.cols = (int64_t)64 << 30)
/* (1, 2, 2^31, 2^31): 2^63 softmax elements. */
REJECTS(softmax_elements_beyond_int64, SINGLE, QUERY_SHAPES, INVALID, "return_softmax",
        "(1, 2, 2147483648, 2147483648)", c->seq_lens[2] = (int64_t)1 << 31;
        c->params.rows = (int64_t)1 << 31)
/* The other member of the ring has 2^31 tokens: its softmax (2, 2, 2^31, 2^31 + 3) would
 * overflow though the caller's own is small (the fuzzer found this gap). */
REJECTS(softmax_of_other_member_beyond_int64, RING, FORWARD_EMULATED, INVALID, "ring member 0",
        "return_softmax", c->seq_lens[0] = (int64_t)1 << 31)
/* One token, head_dim 8, 2^55 + 2^53 KV heads: the qkv fits, the advance Hq * 32 does not. */
REJECTS(generator_advance_beyond_int64, SINGLE, QUERY_SHAPES, INVALID, "p_dropout",
        "units * Hq * 32", c->seq_lens[2] = 1; c->params.rows = 1; c->params.head_dim = 8;
        c->params.group_query_ratio = 1;
        c->params.cols = 3 * 8 * (((int64_t)1 << 55) + ((int64_t)1 << 53)))
/* 2^32 tokens: 4 * 16 * 2 * 2^64 FLOPs, far above the default limit. */
REJECTS(work_above_default_limit, SINGLE, FORWARD, INVALID, "max_flops",
        "PATTN_DEFAULT_MAX_FLOPS", c->seq_lens[2] = (int64_t)1 << 32;
        c->params.rows = (int64_t)1 << 32; c->params.return_softmax = 0)
REJECTS(work_above_caller_limit, SINGLE, BACKWARD, INVALID, "max_flops", "= 1000",
        c->params.max_flops = 1000)
REJECTS(work_of_every_emulated_member, RING, FORWARD_EMULATED, INVALID, "max_flops",
        "every ring member", c->params.max_flops = 1000)
REJECTS(max_flops_negative, SINGLE, QUERY_SHAPES, INVALID, "max_flops", "= -1",
        c->params.max_flops = -1)
REJECTS(max_flops_nan, SINGLE, QUERY_SHAPES, INVALID, "max_flops", "nan",
        c->params.max_flops = NAN)

/* ---------------------------------------------------------------- overlapping arrays */
REJECTS(out_is_qkv, SINGLE, FORWARD, INVALID, "out", "overlaps qkv",
        c->out_ptr[0] = c->qkv[0])
REJECTS(lse_overlaps_out, SINGLE, FORWARD, INVALID, "softmax_lse", "overlaps out",
        c->lse_ptr[0] = c->o.out[0] + 8)
REJECTS(softmax_overlaps_lse, SINGLE, FORWARD, INVALID, "softmax", "softmax_lse",
        c->softmax_ptr[0] = c->o.lse[0] + 1)
REJECTS(rng_state_inside_out, SINGLE, FORWARD, INVALID, "rng_state", "out",
        c->rng_out_arg = (int64_t *)(c->o.out[0] + 2))
REJECTS(dqkv_is_dout, SINGLE, BACKWARD, INVALID, "dqkv", "overlaps dout",
        c->dqkv_ptr[0] = c->dout[0])
REJECTS(dqkv_is_qkv, SINGLE, BACKWARD, INVALID, "dqkv", "overlaps qkv",
        c->dqkv_ptr[0] = c->qkv[0])
REJECTS(dqkv_overlaps_lse, SINGLE, BACKWARD, INVALID, "dqkv", "overlaps softmax_lse",
        c->dqkv_ptr[0] = c->o.lse[0] + 4)
REJECTS(emulated_out_of_member_1_is_qkv_of_member_0, RING, FORWARD_EMULATED, INVALID, "out[1]",
        "overlaps qkv[0]", c->out_ptr[1] = c->qkv[0])
REJECTS(emulated_dqkv_of_members_overlap, RING_PACKED, BACKWARD_EMULATED, INVALID, "dqkv[1]",
        "overlaps dqkv[0]", c->dqkv_ptr[1] = c->o.dqkv[0] + 4)

/* The work limit is inclusive, and INFINITY lifts it. SINGLE computes 2 samples of 4 tokens,
 * each query meeting 4 keys: 32 pairs, 4 * head_dim 16 * Hq 2 = 128 FLOPs each. */
Test(bad_input, max_flops_counts_flashattention_flops)
{
    call_t *c = setup(SINGLE);
    c->params.max_flops = 32 * 128;
    cr_assert_eq(call_entry(c, FORWARD), pattnSuccess, "%s", pattnGetLastError());
    c->params.max_flops = 32 * 128 - 1;
    cr_assert_eq(call_entry(c, FORWARD), pattnInvalidArgument);
    cr_assert_not_null(strstr(pattnGetLastError(), "4.1e+03 FLOPs"), "%s", pattnGetLastError());
    c->params.max_flops = 2.5 * 32 * 128;
    cr_assert_eq(call_entry(c, BACKWARD), pattnSuccess, "%s", pattnGetLastError());
    c->params.max_flops = 2.5 * 32 * 128 - 1;
    cr_assert_eq(call_entry(c, BACKWARD), pattnInvalidArgument);
    c->params.max_flops = INFINITY;
    cr_assert_eq(call_entry(c, BACKWARD), pattnSuccess, "%s", pattnGetLastError());
}

/* ---------------------------------------------------------------- handles and status text */
Test(bad_input, create_unknown_backend)
{
    pattnHandle_t handle = (pattnHandle_t)&the_call; /* sentinel: must stay as it is */
    cr_assert_eq(pattnCreate(&handle, (pattnBackend_t)9), pattnInvalidArgument);
    cr_assert_not_null(strstr(pattnGetLastError(), "backend"), "%s", pattnGetLastError());
    cr_assert_not_null(strstr(pattnGetLastError(), "= 9"), "%s", pattnGetLastError());
    cr_assert_eq(handle, (pattnHandle_t)&the_call, "handle written by a failed pattnCreate");
}

Test(bad_input, create_null_handle)
{
    cr_assert_eq(pattnCreate(NULL, PATTN_BACKEND_REFERENCE), pattnInvalidArgument);
    cr_assert_not_null(strstr(pattnGetLastError(), "handle = NULL"), "%s", pattnGetLastError());
}

Test(bad_input, create_cuda_without_cuda)
{
    if (pattnBackendAvailable(PATTN_BACKEND_CUDA))
        cr_skip_test("this build has the CUDA backend");
    pattnHandle_t handle = (pattnHandle_t)&the_call;
    cr_assert_eq(pattnCreate(&handle, PATTN_BACKEND_CUDA), pattnUnsupported);
    cr_assert_not_null(strstr(pattnGetLastError(), "backend"), "%s", pattnGetLastError());
    cr_assert_not_null(strstr(pattnGetLastError(), "cuda"), "%s", pattnGetLastError());
    cr_assert_eq(handle, (pattnHandle_t)&the_call, "handle written by a failed pattnCreate");
}

Test(bad_input, error_strings_non_empty_and_distinct)
{
    for (int a = 0; a < pattnNumResults; ++a) {
        const char *sa = pattnGetErrorString((pattnResult_t)a);
        cr_assert(sa && sa[0], "pattnGetErrorString(%d) is empty", a);
        for (int b = 0; b < a; ++b)
            cr_assert_str_neq(sa, pattnGetErrorString((pattnResult_t)b),
                              "codes %d and %d share the text \"%s\"", a, b, sa);
    }
    const char *unknown = pattnGetErrorString((pattnResult_t)-1);
    cr_assert(unknown && unknown[0], "no text for an unknown code");
}

Test(bad_input, version_null_pointer)
{
    cr_assert_eq(pattnGetVersion(NULL), pattnInvalidArgument);
    cr_assert_not_null(strstr(pattnGetLastError(), "version = NULL"), "%s", pattnGetLastError());
}

/* The run-time version is the header's, in NCCL's encoding (0.1.0 is 100, 1.2.3 is 10203). */
Test(bad_input, version_is_the_header_version)
{
    int version = -1;
    cr_assert_eq(pattnGetVersion(&version), pattnSuccess);
    cr_assert_eq(version, PATTN_VERSION_MAJOR * 10000 + PATTN_VERSION_MINOR * 100 +
                              PATTN_VERSION_PATCH);
    cr_assert_eq(PATTN_VERSION(1, 2, 3), 10203);
    cr_assert_str_empty(pattnGetLastError());
}

/* ---------------------------------------------------------------- controls */
/* The unchanged set-ups are valid, so each rejection above comes from the one change it makes. */
Test(bad_input, setups_are_valid)
{
    static const struct {
        enum setup_kind kind;
        int ring_size, ring_index;
        int64_t batch, local_len;
    } want[] = {{SINGLE, 1, 0, 2, 4}, {RING, 2, 1, 2, 3}, {PACKED, 1, 0, 1, 4},
                {RING_PACKED, 2, 1, 1, 3}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; ++i) {
        call_t *c = setup(want[i].kind);
        pattnShapes_t s;
        pattnResult_t r = pattnQueryShapes(&c->params, &s);
        cr_assert_eq(r, pattnSuccess, "set-up %zu: %s", i, pattnGetLastError());
        cr_assert_str_empty(pattnGetLastError(), "a success leaves an empty message");
        cr_assert(s.ring_size == want[i].ring_size && s.ring_index == want[i].ring_index &&
                      s.batch == want[i].batch && s.local_len == want[i].local_len,
                  "set-up %zu: ring %d/%d, B %lld, L %lld", i, s.ring_index, s.ring_size,
                  (long long)s.batch, (long long)s.local_len);
        cr_assert(s.num_q_heads == 2 && s.num_kv_heads == 1 && s.out_cols == 32,
                  "set-up %zu: heads %lld/%lld", i, (long long)s.num_q_heads,
                  (long long)s.num_kv_heads);
    }
}

/* A valid call with p_dropout = 0 may pass no generator, and then writes every output. */
Test(bad_input, no_generator_needed_without_dropout)
{
    call_t *c = setup(SINGLE);
    c->params.p_dropout = 0;
    c->gen_arg = NULL;
    pattnResult_t r = call_entry(c, FORWARD);
    cr_assert_eq(r, pattnSuccess, "%s", pattnGetLastError());
    int64_t nan_out = api_first_nan(PATTN_FP32, c->o.out[0], 8 * 32);
    int64_t nan_lse = api_first_nan(PATTN_FP32, c->o.lse[0], 2 * 2 * 4);
    int64_t nan_sm = api_first_nan(PATTN_FP32, c->o.softmax[0], 2 * 2 * 4 * 4);
    cr_assert(nan_out < 0 && nan_lse < 0 && nan_sm < 0,
              "unwritten (NaN) element: out %lld, lse %lld, softmax %lld", (long long)nan_out,
              (long long)nan_lse, (long long)nan_sm);
}
