/*
 * test_case_parser.c: case.txt parsing (defaults, every key, ragged strategies, errors that
 * name file, line and key) and case folder loading (arrays converted exactly to the dtype,
 * missing or wrong files rejected, call parameters built from the case).
 */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "case.h"
#include "dtype.h"
#include "harness_util.h"

static char dir[4096];

static void make_dir(void) { harness_tmpdir(dir, sizeof dir); }
static void remove_dir(void) { harness_remove_tree(dir); }

TestSuite(case_parser, .init = make_dir, .fini = remove_dir);

/* Parses text as dir/case.txt; returns the parser's status. */
static int parse(const char *text, conf_case_config_t *cfg, conf_error_t *err)
{
    harness_write_text(dir, "case.txt", text);
    char path[4200];
    snprintf(path, sizeof path, "%s/case.txt", dir);
    return case_parse_file(path, cfg, err);
}

#define REQUIRED                                                                                   \
    "dtype = bf16\nhead_dim = 64\ngroup_query_ratio = 2\nseq_lens = 10\ncp_groups = 0\n"

Test(case_parser, defaults_of_every_optional_key)
{
    conf_case_config_t cfg;
    conf_error_t err;
    cr_assert_eq(parse(REQUIRED, &cfg, &err), 0, "%s", err.text);
    cr_assert_eq(cfg.dtype, PATTN_BF16);
    cr_assert_eq(cfg.head_dim, 64);
    cr_assert_eq(cfg.group_query_ratio, 2);
    cr_assert_eq(cfg.num_strategies, 1);
    cr_assert_eq(cfg.num_pipelines, 1);
    cr_assert_eq(cfg.active_pipelines, 1);
    cr_assert_eq(cfg.seq_lens[0], 10);
    cr_assert_eq(cfg.cp_groups[0], 0);
    cr_assert_eq(cfg.strategy, 0);
    cr_assert_eq(cfg.split, PATTN_SPLIT_CONTIGUOUS);
    cr_assert_eq(cfg.packing, 0);
    cr_assert_eq(cfg.is_causal, 1);
    cr_assert_eq(cfg.return_softmax, 0);
    cr_assert_eq(cfg.max_seqlen_q, 0);
    cr_assert_eq(cfg.max_seqlen_k, 0);
    cr_assert_eq(cfg.p_dropout, 0.0);
    cr_assert_eq(cfg.softmax_scale, -1.0);
    cr_assert_eq(cfg.rng_seed, 0);
    cr_assert_eq(cfg.rng_offset, 0);
    cr_assert_eq(cfg.backward, 0);
    cr_assert_eq(cfg.deterministic, 1); /* the API's default */
    cr_assert(isnan(cfg.tolerance.atol_out) && isnan(cfg.tolerance.rtol_out) &&
              isnan(cfg.tolerance.atol_lse) && isnan(cfg.tolerance.atol_dqkv) &&
              isnan(cfg.tolerance.rtol_dqkv));
    cr_assert_str_eq(cfg.source, "");
    case_config_free(&cfg);
}

Test(case_parser, every_key_with_random_values)
{
    uint64_t rng = harness_seed();
    int64_t head_dim = 8 * (int64_t)(1 + harness_next(&rng) % 32);
    int64_t ratio = 1 + (int64_t)(harness_next(&rng) % 4);
    int64_t lens[6], groups[6];
    for (int i = 0; i < 6; ++i) {
        lens[i] = (int64_t)(harness_next(&rng) % 1000);
        groups[i] = (int64_t)(harness_next(&rng) % 3);
    }
    uint64_t seed = harness_next(&rng), offset = harness_next(&rng);
    double p = (double)(harness_next(&rng) % 99) / 100.0;
    double scale = harness_uniform(&rng, 0.01, 2.0);
    double tol[5];
    for (int i = 0; i < 5; ++i)
        tol[i] = harness_uniform(&rng, 0.0, 0.1);
    char text[4096];
    snprintf(text, sizeof text,
             "# a comment line\n"
             "\n"
             "  dtype=fp16   # trailing comment\n"
             "head_dim = %lld\n"
             "group_query_ratio = %lld\r\n"
             "seq_lens = %lld,%lld, %lld ;%lld , %lld,%lld\n"
             "cp_groups = %lld,%lld,%lld;%lld,%lld,%lld\n"
             "strategy = 1\n"
             "split = sym\n"
             "packing = 1\n"
             "is_causal = 0\n"
             "return_softmax = 1\n"
             "max_seqlen_q = 77\n"
             "max_seqlen_k = 99\n"
             "p_dropout = %.2f\n"
             "softmax_scale = %.17g\n"
             "rng_seed = %llu\n"
             "rng_offset = 0x%llx\n"
             "backward = 1\n"
             "deterministic = 0\n"
             "atol_out = %.17g\n"
             "rtol_out = %.17g\n"
             "atol_lse = %.17g\n"
             "atol_dqkv = %.17g\n"
             "rtol_dqkv = %.17g\n"
             "source = numpy oracle #3, float64\n",
             (long long)head_dim, (long long)ratio, (long long)lens[0], (long long)lens[1],
             (long long)lens[2], (long long)lens[3], (long long)lens[4], (long long)lens[5],
             (long long)groups[0], (long long)groups[1], (long long)groups[2],
             (long long)groups[3], (long long)groups[4], (long long)groups[5], p, scale,
             (unsigned long long)seed, (unsigned long long)offset, tol[0], tol[1], tol[2],
             tol[3], tol[4]);
    conf_case_config_t cfg;
    conf_error_t err;
    cr_assert_eq(parse(text, &cfg, &err), 0, "%s", err.text);
    cr_assert_eq(cfg.dtype, PATTN_FP16);
    cr_assert_eq(cfg.head_dim, head_dim);
    cr_assert_eq(cfg.group_query_ratio, ratio);
    cr_assert_eq(cfg.num_strategies, 2);
    cr_assert_eq(cfg.num_pipelines, 3);
    for (int i = 0; i < 6; ++i) {
        cr_assert_eq(cfg.seq_lens[i], lens[i], "seq_lens item %d", i);
        cr_assert_eq(cfg.cp_groups[i], groups[i], "cp_groups item %d", i);
    }
    cr_assert_eq(cfg.strategy, 1);
    cr_assert_eq(cfg.split, PATTN_SPLIT_SYM);
    cr_assert_eq(cfg.packing, 1);
    cr_assert_eq(cfg.is_causal, 0);
    cr_assert_eq(cfg.return_softmax, 1);
    cr_assert_eq(cfg.max_seqlen_q, 77);
    cr_assert_eq(cfg.max_seqlen_k, 99);
    cr_assert_float_eq(cfg.p_dropout, p, 1e-12);
    cr_assert_eq(cfg.softmax_scale, scale);
    cr_assert_eq(cfg.rng_seed, seed);
    cr_assert_eq(cfg.rng_offset, offset);
    cr_assert_eq(cfg.backward, 1);
    cr_assert_eq(cfg.deterministic, 0);
    cr_assert_eq(cfg.tolerance.atol_out, tol[0]);
    cr_assert_eq(cfg.tolerance.rtol_out, tol[1]);
    cr_assert_eq(cfg.tolerance.atol_lse, tol[2]);
    cr_assert_eq(cfg.tolerance.atol_dqkv, tol[3]);
    cr_assert_eq(cfg.tolerance.rtol_dqkv, tol[4]);
    cr_assert_str_eq(cfg.source, "numpy oracle #3, float64");
    case_config_free(&cfg);
}

Test(case_parser, strategies_of_different_sizes_are_padded)
{
    conf_case_config_t cfg;
    conf_error_t err;
    cr_assert_eq(parse("dtype = fp32\nhead_dim = 8\ngroup_query_ratio = 1\n"
                       "seq_lens = 64,64,32 ; 160\ncp_groups = 0,0,1 ; 4\nstrategy = 1\n",
                       &cfg, &err),
                 0, "%s", err.text);
    cr_assert_eq(cfg.num_strategies, 2);
    cr_assert_eq(cfg.num_pipelines, 3);
    cr_assert_eq(cfg.active_pipelines, 1);
    cr_assert_eq(cfg.seq_lens[3], 160);
    cr_assert_eq(cfg.seq_lens[4], 0);
    cr_assert_eq(cfg.seq_lens[5], 0);
    cr_assert_eq(cfg.cp_groups[3], 4);
    /* padding pipelines sit alone: distinct from each other and from the listed groups */
    cr_assert_neq(cfg.cp_groups[4], 4);
    cr_assert_neq(cfg.cp_groups[5], 4);
    cr_assert_neq(cfg.cp_groups[4], cfg.cp_groups[5]);
    case_config_free(&cfg);
}

Test(case_parser, errors_name_file_line_and_key)
{
    const struct {
        const char *extra; /* appended after REQUIRED (lines 6, 7, ...) or replacing it */
        int replace;
        int line;          /* 0: no line (whole-file check) */
        const char *key, *fragment;
    } cases[] = {
        {"colour = red\n", 0, 6, "colour", "unknown key"},
        {"head_dim = 64\n", 0, 6, "head_dim", "second time"},
        {"packing = 2\n", 0, 6, "packing", "[0, 1]"},
        {"is_causal = yes\n", 0, 6, "is_causal", "integer"},
        {"p_dropout = 1.0\n", 0, 6, "p_dropout", "[0, 1)"},
        {"p_dropout = 0.1.2\n", 0, 6, "p_dropout", "decimal"},
        {"softmax_scale = nan\n", 0, 6, "softmax_scale", "finite"},
        {"split = zigzag\n", 0, 6, "split", "contiguous or sym"},
        {"rng_seed = -1\n", 0, 6, "rng_seed", "unsigned"},
        {"rng_seed = 18446744073709551616\n", 0, 6, "rng_seed", "unsigned"},
        {"rng_offset = 12abc\n", 0, 6, "rng_offset", "unsigned"},
        {"atol_out = -1e-3\n", 0, 6, "atol_out", "[0,"},
        {"max_seqlen_q = -3\n", 0, 6, "max_seqlen_q", "integer >= 0"},
        {"strategy = 1\n", 0, 6, "strategy", "below the 1 strategies"},
        {"backward\n", 0, 6, "backward", "key = value"},
        {"source =\nbackward = \n", 0, 7, "backward", "no value"},
        {"dtype = fp64\nhead_dim = 8\ngroup_query_ratio = 1\nseq_lens = 8\ncp_groups = 0\n", 1,
         1, "dtype", "fp32, fp16 or bf16"},
        {"dtype = fp32\nhead_dim = 1.5\n", 1, 2, "head_dim", "integer"},
        {"dtype = fp32\nhead_dim = 8\ngroup_query_ratio = 0\n", 1, 3, "group_query_ratio",
         ">= 1"},
        {"dtype = fp32\nhead_dim = 8\ngroup_query_ratio = 1\nseq_lens = 64,,32\n", 1, 4,
         "seq_lens", "integers"},
        {"dtype = fp32\nhead_dim = 8\ngroup_query_ratio = 1\nseq_lens = 64,-2\n", 1, 4,
         "seq_lens", "non-negative"},
        {"dtype = fp32\nhead_dim = 8\ngroup_query_ratio = 1\nseq_lens = 64,64 ; 32\n"
         "cp_groups = 0,0 ; 0,0\n", 1, 5, "cp_groups", "shape of seq_lens"},
        {"dtype = fp32\nhead_dim = 8\ngroup_query_ratio = 1\nseq_lens = 64,64\n"
         "cp_groups = 0,0 ; 0,0\n", 1, 5, "cp_groups", "shape of seq_lens"},
        {"dtype = fp32\nhead_dim = 8\ngroup_query_ratio = 1\nseq_lens = 64\n", 1, 0,
         "cp_groups", "missing"},
        {"head_dim = 8\ngroup_query_ratio = 1\nseq_lens = 64\ncp_groups = 0\n", 1, 0, "dtype",
         "missing"},
    };
    char path[4200], text[1024], where[64];
    snprintf(path, sizeof path, "%s/case.txt", dir);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
        snprintf(text, sizeof text, "%s%s", cases[i].replace ? "" : REQUIRED, cases[i].extra);
        conf_case_config_t cfg;
        conf_error_t err = {{0}};
        cr_assert_eq(parse(text, &cfg, &err), -1, "case %zu was accepted:\n%s", i, text);
        cr_assert_not_null(strstr(err.text, path), "case %zu: no file name in: %s", i, err.text);
        cr_assert_not_null(strstr(err.text, cases[i].key), "case %zu: no key in: %s", i,
                           err.text);
        cr_assert_not_null(strstr(err.text, cases[i].fragment), "case %zu: no '%s' in: %s", i,
                           cases[i].fragment, err.text);
        if (cases[i].line) {
            snprintf(where, sizeof where, "case.txt:%d:", cases[i].line);
            cr_assert_not_null(strstr(err.text, where), "case %zu: no '%s' in: %s", i, where,
                               err.text);
        }
    }
}

Test(case_parser, missing_case_file)
{
    conf_case_t c;
    conf_error_t err;
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/nothing", dir);
    cr_assert_eq(case_load(sub, "nothing", &c, &err), -1);
    cr_assert_not_null(strstr(err.text, "nothing/case.txt"), "%s", err.text);
}

/* ---------------------------------------------------------------- loading folders */
/* Random values exactly representable in dtype (rounded through it). */
static float *exact_values(uint64_t *rng, pattnDtype_t dtype, int64_t n)
{
    float *v = malloc((size_t)n * sizeof *v);
    cr_assert_not_null(v);
    for (int64_t i = 0; i < n; ++i)
        v[i] = pattn_round_to(dtype, (float)harness_uniform(rng, -3, 3));
    return v;
}

Test(case_parser, loads_arrays_and_builds_parameters)
{
    uint64_t rng = harness_seed();
    /* packed ring of 2 (pipelines 0 and 2) plus a single pipeline 1, bf16, D = 8, r = 2 */
    harness_write_text(dir, "case.txt",
                       "dtype = bf16\nhead_dim = 8\ngroup_query_ratio = 2\n"
                       "seq_lens = 7,5,9\ncp_groups = 3,1,3\npacking = 1\nbackward = 1\n"
                       "split = sym\np_dropout = 0.25\nsoftmax_scale = 0.5\nis_causal = 0\n"
                       "return_softmax = 1\nrng_seed = 12345678901234567890\nrng_offset = 64\n"
                       "deterministic = 0\n");
    const int64_t rows[3] = {7, 5, 9}, cols = (2 + 2) * 8, out_cols = 2 * 8;
    /* ring: member 0 pieces (3, 4), member 1 pieces (5, 4): global lengths 8 and 8 */
    const int32_t ring_cu[2][3] = {{0, 3, 7}, {0, 5, 9}};
    const int32_t single_q[3] = {0, 0, 5}, single_k[3] = {0, 2, 5};
    float *qkv[3], *dout[3];
    for (int p = 0; p < 3; ++p) {
        char name[64];
        qkv[p] = exact_values(&rng, PATTN_BF16, rows[p] * cols);
        dout[p] = exact_values(&rng, PATTN_BF16, rows[p] * out_cols);
        snprintf(name, sizeof name, "qkv.%d.npy", p);
        harness_write_f32(dir, name, 2, (int64_t[]){rows[p], cols}, qkv[p]);
        snprintf(name, sizeof name, "dout.%d.npy", p);
        harness_write_f32(dir, name, 2, (int64_t[]){rows[p], out_cols}, dout[p]);
        const char *stems[2] = {"cu_seqlens_q", "cu_seqlens_k"};
        for (int s = 0; s < 2; ++s) {
            snprintf(name, sizeof name, "%s.%d.npy", stems[s], p);
            if (p == 1)
                harness_write_i32(dir, name, 1, (int64_t[]){3}, s ? single_k : single_q);
            else
                harness_write_i32(dir, name, 2, (int64_t[]){2, 3}, &ring_cu[0][0]);
        }
    }
    harness_write_f32(dir, "out.2.npy", 2, (int64_t[]){9, out_cols}, dout[2]);

    conf_case_t c;
    conf_error_t err;
    cr_assert_eq(case_load(dir, "loaded", &c, &err), 0, "%s", err.text);
    cr_assert_str_eq(c.name, "loaded");
    for (int p = 0; p < 3; ++p) {
        cr_assert(c.pipes[p].present);
        cr_assert_eq(c.pipes[p].rows, rows[p]);
        cr_assert_eq(c.pipes[p].cols, cols);
        for (int64_t i = 0; i < rows[p] * cols; ++i)
            cr_assert_eq(pattn_load(PATTN_BF16, c.pipes[p].qkv, i), qkv[p][i], "qkv.%d[%lld]", p,
                         (long long)i);
        for (int64_t i = 0; i < rows[p] * out_cols; ++i)
            cr_assert_eq(pattn_load(PATTN_BF16, c.pipes[p].dout, i), dout[p][i]);
        cr_assert_eq(c.pipes[p].num_seqs, 2);
    }
    cr_assert_not_null(c.pipes[2].expected[CONF_OUT].data);
    cr_assert_null(c.pipes[0].expected[CONF_OUT].data);
    cr_assert_null(c.pipes[2].expected[CONF_LSE].data);

    pattnParams_t params;
    cr_assert_eq(case_params(&c, 2, &params, &err), 0, "%s", err.text);
    cr_assert_eq(params.size, sizeof(pattnParams_t));
    cr_assert_eq(params.dtype, PATTN_BF16);
    cr_assert_eq(params.rows, 9);
    cr_assert_eq(params.cols, cols);
    cr_assert_eq(params.head_dim, 8);
    cr_assert_eq(params.group_query_ratio, 2);
    cr_assert_eq(params.num_strategies, 1);
    cr_assert_eq(params.num_pipelines, 3);
    cr_assert_eq(params.pipeline, 2);
    cr_assert_eq(params.split, PATTN_SPLIT_SYM);
    cr_assert_eq(params.packing, 1);
    cr_assert_eq(params.num_seqs, 2);
    cr_assert_eq(params.cu_seqlens_q[3 + 2], 9);
    cr_assert_eq(params.max_seqlen_q, 5); /* longest local piece of any member */
    cr_assert_eq(params.max_seqlen_k, 8); /* longest global sequence: 3 + 5, 4 + 4 */
    cr_assert_eq(params.p_dropout, 0.25);
    cr_assert_eq(params.softmax_scale, 0.5);
    cr_assert_eq(params.is_causal, 0);
    cr_assert_eq(params.return_softmax, 1);
    cr_assert_eq(params.deterministic, 0);
    pattnShapes_t shapes;
    cr_assert_eq(pattnQueryShapes(&params, &shapes), pattnSuccess, "%s", pattnGetLastError());
    cr_assert_eq(shapes.ring_size, 2);
    cr_assert_eq(shapes.ring_index, 1);

    cr_assert_eq(case_params(&c, 1, &params, &err), 0, "%s", err.text);
    cr_assert_eq(params.max_seqlen_q, 5);
    cr_assert_eq(params.max_seqlen_k, 3);
    cr_assert_eq(c.cfg.rng_seed, 12345678901234567890ull);
    case_free(&c);
    for (int p = 0; p < 3; ++p) {
        free(qkv[p]);
        free(dout[p]);
    }
}

/* A minimal valid single-pipeline fp16 case in an emptied dir, with case.txt extra lines. */
static void write_small_case(const char *extra)
{
    harness_remove_tree(dir);
    cr_assert_eq(mkdir(dir, 0700), 0, "mkdir %s", dir);
    char text[1024];
    snprintf(text, sizeof text,
             "dtype = fp16\nhead_dim = 8\ngroup_query_ratio = 1\nseq_lens = 4\ncp_groups = 0\n%s",
             extra);
    harness_write_text(dir, "case.txt", text);
    float qkv[4 * 24];
    for (int i = 0; i < 4 * 24; ++i)
        qkv[i] = (float)(i % 7) - 3.0f;
    harness_write_f32(dir, "qkv.0.npy", 2, (int64_t[]){4, 24}, qkv);
}

static void write_array(const char *folder, const char *name, npy_dtype_t t, int ndim,
                        const int64_t *shape, const double *values);

static void assert_load_fails(const char *file, const char *fragment)
{
    conf_case_t c;
    conf_error_t err = {{0}};
    cr_assert_eq(case_load(dir, "bad", &c, &err), -1, "accepted; expected an error about %s",
                 file);
    cr_assert_not_null(strstr(err.text, file), "no '%s' in: %s", file, err.text);
    cr_assert_not_null(strstr(err.text, fragment), "no '%s' in: %s", fragment, err.text);
}

Test(case_parser, rejects_missing_and_wrong_arrays)
{
    char path[4200];
    write_small_case("backward = 1\n");
    assert_load_fails("dout.0.npy", "missing");

    write_small_case("");
    harness_write_text(dir, "case.txt",
                       "dtype = fp16\nhead_dim = 8\ngroup_query_ratio = 1\n"
                       "seq_lens = 4,4\ncp_groups = 0,0\n");
    assert_load_fails("qkv.1.npy", "ring");

    write_small_case("packing = 1\n");
    assert_load_fails("cu_seqlens_q.0.npy", "cannot open");

    write_small_case("");
    float inexact[4 * 24] = {0};
    inexact[30] = 1.0f + 1.0f / 4096; /* needs 12 mantissa bits: not an fp16 */
    harness_write_f32(dir, "qkv.0.npy", 2, (int64_t[]){4, 24}, inexact);
    assert_load_fails("qkv.0.npy", "[1,6]");
    assert_load_fails("qkv.0.npy", "not exactly representable in fp16");

    write_small_case("");
    harness_write_i32(dir, "qkv.0.npy", 2, (int64_t[]){2, 2}, (int32_t[]){1, 2, 3, 4});
    assert_load_fails("qkv.0.npy", "<i4");

    write_small_case("");
    harness_write_i32(dir, "out.0.npy", 1, (int64_t[]){2}, (int32_t[]){1, 2});
    assert_load_fails("out.0.npy", "<f4 or <f8");

    write_small_case("");
    harness_write_f32(dir, "rng_state.0.npy", 1, (int64_t[]){2}, (float[]){1, 2});
    assert_load_fails("rng_state.0.npy", "<i8");

    write_small_case("");
    snprintf(path, sizeof path, "%s/qkv.0.npy", dir);
    remove(path);
    assert_load_fails(dir, "no qkv");

    /* float64 holding a value that fp32 cannot hold */
    write_small_case("");
    write_array(dir, "qkv.0.npy", NPY_F8, 2, (int64_t[]){4, 24}, (double[96]){[5] = 0.1});
    assert_load_fails("qkv.0.npy", "not exactly representable in fp16");
}

/* Writes values (doubles) as an array of dtype t. */
static void write_array(const char *folder, const char *name, npy_dtype_t t, int ndim,
                        const int64_t *shape, const double *values)
{
    npy_array_t a;
    conf_error_t err;
    char path[4200];
    cr_assert_eq(npy_alloc(&a, t, ndim, shape, &err), 0);
    for (int64_t i = 0; i < a.count; ++i) {
        switch (t) {
        case NPY_F2:
            ((uint16_t *)a.data)[i] = pattn_f32_to_fp16((float)values[i]);
            break;
        case NPY_F8:
            ((double *)a.data)[i] = values[i];
            break;
        case NPY_I8:
            ((int64_t *)a.data)[i] = (int64_t)values[i];
            break;
        case NPY_U4:
            ((uint32_t *)a.data)[i] = (uint32_t)values[i];
            break;
        default:
            cr_assert_fail("write_array: dtype %s", npy_descr(t));
        }
    }
    snprintf(path, sizeof path, "%s/%s", folder, name);
    cr_assert_eq(npy_write(path, &a, &err), 0, "%s", err.text);
    npy_free(&a);
}

/* A ring member whose qkv has fewer columns than the ring's parameters say: its buffers would
 * be sized from its own file while it runs with pipeline 0's parameters (a heap overflow). */
Test(case_parser, rejects_ring_members_of_different_columns)
{
    write_small_case("");
    harness_write_text(dir, "case.txt",
                       "dtype = fp16\nhead_dim = 8\ngroup_query_ratio = 1\n"
                       "seq_lens = 4,4\ncp_groups = 0,0\n");
    float qkv[4 * 48] = {0};
    harness_write_f32(dir, "qkv.1.npy", 2, (int64_t[]){4, 48}, qkv);
    assert_load_fails("qkv.1.npy", "48 columns");
}

/* What numpy writes by default loads: float16 and float64 inputs holding exact values, NaN and
 * infinities in qkv, int64 and uint32 cu_seqlens, uint64 rng_state. */
Test(case_parser, loads_float16_float64_nonfinite_and_wide_integer_arrays)
{
    write_small_case("packing = 1\n");
    double qkv[4 * 24];
    for (int i = 0; i < 4 * 24; ++i)
        qkv[i] = (i % 7) * 0.25 - 1.0;
    qkv[3] = NAN, qkv[30] = INFINITY, qkv[31] = -INFINITY;
    write_array(dir, "qkv.0.npy", NPY_F8, 2, (int64_t[]){4, 24}, qkv);
    write_array(dir, "cu_seqlens_q.0.npy", NPY_I8, 1, (int64_t[]){3}, (double[]){0, 1, 4});
    write_array(dir, "cu_seqlens_k.0.npy", NPY_U4, 1, (int64_t[]){3}, (double[]){0, 3, 4});
    npy_array_t rng;
    conf_error_t err;
    cr_assert_eq(npy_alloc(&rng, NPY_U8, 1, (int64_t[]){2}, &err), 0);
    ((uint64_t *)rng.data)[0] = (1ull << 63) + 7;
    char path[4200];
    snprintf(path, sizeof path, "%s/rng_state.0.npy", dir);
    cr_assert_eq(npy_write(path, &rng, &err), 0, "%s", err.text);
    npy_free(&rng);
    conf_case_t c;
    cr_assert_eq(case_load(dir, "wide", &c, &err), 0, "%s", err.text);
    for (int i = 0; i < 4 * 24; ++i)
        cr_assert(isnan(qkv[i]) ? isnan(pattn_load(PATTN_FP16, c.pipes[0].qkv, i))
                                : pattn_load(PATTN_FP16, c.pipes[0].qkv, i) == (float)qkv[i],
                  "qkv item %d", i);
    cr_assert(c.pipes[0].cu_seqlens_q[1] == 1 && c.pipes[0].cu_seqlens_k[1] == 3);
    cr_assert_eq((uint64_t)npy_get_i64(&c.pipes[0].expected[CONF_RNG_STATE], 0),
                 (1ull << 63) + 7);
    case_free(&c);

    write_small_case("");
    write_array(dir, "qkv.0.npy", NPY_F2, 2, (int64_t[]){4, 24}, qkv);
    cr_assert_eq(case_load(dir, "half", &c, &err), 0, "%s", err.text);
    cr_assert(isinf(pattn_load(PATTN_FP16, c.pipes[0].qkv, 30)));
    case_free(&c);
}

/* Links into the tree (to itself, to its parent, a second name for a case) list every case
 * once, by its real path: before, two self-links listed one case 131,071 times. */
Test(case_parser, discovery_walks_each_folder_once)
{
    harness_remove_tree(dir);
    char c[4200], link[4300];
    snprintf(link, sizeof link, "%s/cases", dir);
    snprintf(c, sizeof c, "%s/cases/c", dir);
    cr_assert(mkdir(dir, 0700) == 0 && mkdir(link, 0700) == 0 && mkdir(c, 0700) == 0);
    harness_write_text(c, "case.txt", "dtype = fp32\n");
    const char *links[][2] = {{"c/a", "."}, {"c/b", "."}, {"c/e", "."}, {"c/up", ".."},
                              {"alias", "c"}};
    for (size_t i = 0; i < sizeof links / sizeof links[0]; ++i) {
        snprintf(link, sizeof link, "%s/cases/%s", dir, links[i][0]);
        cr_assert_eq(symlink(links[i][1], link), 0, "symlink %s", link);
    }
    snprintf(link, sizeof link, "%s/cases", dir);
    char **names;
    int count;
    conf_error_t err;
    cr_assert_eq(case_discover(link, &names, &count, &err), 0, "%s", err.text);
    cr_assert_eq(count, 1, "%d cases listed (first: %s)", count, count ? names[0] : "-");
    cr_assert_str_eq(names[0], "c");
    case_names_free(names, count);
}

/* A NUL byte inside a line is an error, not a silent cut ("dtype = fp32\\0junk" was fp32). */
Test(case_parser, rejects_a_nul_byte_inside_a_line)
{
    static const char text[] = "dtype = fp32\0junk\nhead_dim = 8\ngroup_query_ratio = 1\n"
                               "seq_lens = 4\ncp_groups = 0\n";
    char path[4200];
    snprintf(path, sizeof path, "%s/case.txt", dir);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(text, 1, sizeof text - 1, f), sizeof text - 1);
    fclose(f);
    conf_case_config_t cfg;
    conf_error_t err;
    cr_assert_eq(case_parse_file(path, &cfg, &err), -1, "accepted a NUL inside line 1");
    cr_assert_not_null(strstr(err.text, "case.txt:1: a NUL byte"), "%s", err.text);
}
