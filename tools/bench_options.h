/*
 * bench_options.h: the command line of pattn-bench (nccl-tests style: short and long flags, sizes
 * with K/M/G suffixes, lists separated by commas, -c 0|1 the output check) and the grid of
 * configurations it describes.
 */
#ifndef PATTN_BENCH_OPTIONS_H
#define PATTN_BENCH_OPTIONS_H

#include <stdint.h>

#include "parallel_attn.h"

#define BENCH_MAX_LIST 32

typedef struct bench_options {
    pattnBackend_t backend;
    int num_dtypes;
    pattnDtype_t dtypes[3];
    int num_head_dims;
    int64_t head_dims[BENCH_MAX_LIST];
    int num_seqlens;
    int64_t seqlens[BENCH_MAX_LIST];
    int num_causal;
    int causal[2];
    int64_t tokens;  /* batch = tokens / seqlen (at least 1) unless batch is set */
    int64_t hidden;  /* query heads = hidden / head_dim unless heads is set */
    int64_t batch;   /* 0: from tokens */
    int64_t heads;   /* 0: from hidden */
    int64_t gqa;     /* group_query_ratio: kv heads = heads / gqa */
    double dropout;
    int warmup;
    int iters;
    int sgemm;       /* reference: time a cblas_sgemm of the same FLOP count */
    int check;       /* validate each row's output against the reference on a sample */
    int backward;    /* time forward + backward */
    int deterministic; /* the backward's mode (pattnParams_t.deterministic) */
    int hide_launch;   /* CUDA: the stream held before each timed call (GPU time) */
    int ring;        /* members of a ring (0: one rank) */
    const char *transport; /* the ring's: "local" or "nccl" */
    uint64_t seed;   /* inputs of row i come from seed + i */
    const char *json_path;
} bench_options_t;

/* Parses argv into opts with every default filled in. Returns 0 to run, 1 when --help or
 * --version was printed, 2 on a usage error (a one-line message naming the flag is printed to
 * stderr). */
int bench_parse_options(int argc, char **argv, bench_options_t *opts);

#endif /* PATTN_BENCH_OPTIONS_H */
