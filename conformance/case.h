/*
 * case.h: golden cases (SPEC section 6). A case is a folder with case.txt (key = value lines,
 * # comments) and .npy arrays per pipeline <p>: inputs qkv.<p>.npy, cu_seqlens_q/k.<p>.npy
 * (packing), dout.<p>.npy (backward); expected out, lse, rng_state, softmax, dqkv.<p>.npy
 * (each optional). Inputs are float16, float32 or float64 holding values exactly representable
 * in the case dtype (NaN and infinities included); loading converts them to the dtype and fails
 * if any value is not exact.
 */
#ifndef CONF_CASE_H
#define CONF_CASE_H

#include <stdint.h>
#include <stdio.h>

#include "error.h"
#include "npy.h"
#include "parallel_attn.h"
#include "tolerance.h"

/* The arrays a run produces and a case may expect, in report order. */
typedef enum conf_output {
    CONF_OUT,
    CONF_LSE,
    CONF_RNG_STATE,
    CONF_SOFTMAX,
    CONF_DQKV,
    CONF_NUM_OUTPUTS
} conf_output_t;

/* "out", "lse", "rng_state", "softmax", "dqkv": the file name stem. */
const char *conf_output_name(conf_output_t which);

/* case.txt, with every default of SPEC section 6 filled in. */
typedef struct conf_case_config {
    pattnDtype_t dtype;
    int64_t head_dim;
    int64_t group_query_ratio;
    int num_strategies, num_pipelines;
    int64_t *seq_lens;    /* [num_strategies][num_pipelines], malloc'd; a strategy that lists
                             fewer pipelines is padded with length 0, each in its own group */
    int64_t *cp_groups;   /* same shape */
    int active_pipelines; /* pipelines the active strategy lists */
    int strategy;       /* default 0 */
    pattnSplit_t split; /* default contiguous */
    int packing;        /* default 0 */
    int is_causal;      /* default 1 */
    int return_softmax; /* default 0 */
    int64_t max_seqlen_q, max_seqlen_k; /* 0 (default): derived from cu_seqlens */
    double p_dropout;                   /* default 0 */
    double softmax_scale;               /* default -1 */
    uint64_t rng_seed, rng_offset;      /* default 0 */
    int backward;                       /* default 0 */
    int deterministic; /* the backward's mode: default 1 (the API's) */
    conf_tolerance_t tolerance;         /* overrides; NaN where unset */
    char source[512];
} conf_case_config_t;

/* One pipeline's arrays (inputs converted to the case dtype). */
typedef struct conf_pipeline {
    int present;          /* qkv.<p>.npy exists */
    int64_t rows, cols;   /* of qkv */
    void *qkv;            /* rows x cols, case dtype */
    void *dout;           /* rows x Hq*D, case dtype (backward) */
    int num_seqs;          /* packing: P */
    int32_t *cu_seqlens_q; /* packing: (P + 1), or (n, P + 1) for a ring of n */
    int32_t *cu_seqlens_k;
    npy_array_t expected[CONF_NUM_OUTPUTS]; /* data NULL where the case has no such file */
} conf_pipeline_t;

typedef struct conf_case {
    char name[256];  /* the folder's path relative to the data folder (or its base name) */
    char dir[4096];
    conf_case_config_t cfg;
    conf_pipeline_t *pipes; /* [cfg.num_pipelines] */
} conf_case_t;

/* Parses a case.txt. Errors name the file, the line and the key. */
int case_parse_file(const char *path, conf_case_config_t *cfg, conf_error_t *err);
/* The same from an open stream; path names it in messages. */
int case_parse_stream(FILE *f, const char *path, conf_case_config_t *cfg, conf_error_t *err);
void case_config_free(conf_case_config_t *cfg);

/* Loads the case folder dir: case.txt and every pipeline's arrays. */
int case_load(const char *dir, const char *name, conf_case_t *c, conf_error_t *err);
void case_free(conf_case_t *c);

/* The parameters of a call by pipeline p (arrays point into c). */
int case_params(const conf_case_t *c, int pipeline, pattnParams_t *params, conf_error_t *err);

/* The ring of pipeline p under the active strategy: its pipelines in ring order into members
 * (PATTN_MAX_RING entries); returns the ring size. */
int case_ring_members(const conf_case_config_t *cfg, int p, int *members);

/* Whether path names a regular file (following links). */
int case_is_file(const char *path);

/* Every folder under data_dir (recursively) that holds a case.txt, as paths relative to
 * data_dir, sorted. *names is malloc'd (free with case_names_free). */
int case_discover(const char *data_dir, char ***names, int *count, conf_error_t *err);
void case_names_free(char **names, int count);

#endif /* CONF_CASE_H */
