/*
 * bench_options.c: parsing pattn-bench's command line (getopt_long) and filling the defaults,
 * which depend on the backend (a CPU gets a smaller grid) and on --grid.
 */
#define _POSIX_C_SOURCE 200809L
#include "bench_options.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

enum { UNSET = -1 };

#ifndef PATTN_GIT_COMMIT
#define PATTN_GIT_COMMIT "unknown"
#endif

static const char USAGE[] =
    "usage: pattn-bench [options]   times pattnForward (and pattnBackward) over a grid of shapes\n"
    "Letters follow nccl-tests where they mean the same (-b -e -n -w -d, -c the output check).\n"
    "  -B, --backend reference|cuda   backend (default reference)\n"
    "  -d, --dtype fp32|fp16|bf16|all dtypes, comma list allowed (default bf16)\n"
    "  -D, --head-dim LIST            head dims (default 64,128)\n"
    "  -s, --seqlen LIST              sequence lengths, K/M suffixes (default: reference 512,1K,2K;\n"
    "                                 cuda 512..16K)\n"
    "  -b, --min-seqlen N             with -e: lengths doubling from N (default 512)\n"
    "  -e, --max-seqlen N             ... up to N (default: the min)\n"
    "  -t, --tokens N                 tokens per batch: batch = tokens / seqlen, at least 1\n"
    "                                 (default: reference 2K, cuda 16K)\n"
    "  -H, --hidden N                 query heads = hidden / head_dim (default 2048)\n"
    "  -N, --batch N                  fixed batch (overrides --tokens)\n"
    "  -Q, --heads N                  fixed query heads (overrides --hidden)\n"
    "  -q, --gqa R                    group_query_ratio: kv heads = heads / R (default 1)\n"
    "  -K, --causal 0|1|both          mask (default both)\n"
    "  -p, --dropout P                dropout probability (default 0)\n"
    "  -w, --warmup N                 untimed calls per row (default: reference 1, cuda 5)\n"
    "  -n, --iters N                  timed calls per row, the median is reported\n"
    "                                 (default: reference 3, cuda 20)\n"
    "  -m, --sgemm 0|1                reference: time a cblas_sgemm of the same FLOP count (default 1)\n"
    "  -S, --seed N                   random inputs of row i use seed + i (default: from the clock)\n"
    "  -c, --check 0|1                check each row's last output against the reference on a\n"
    "                                 sample (sample 0; without dropout only its first KV group),\n"
    "                                 print #wrong, exit 1 when any is wrong (default 1)\n"
    "      --backward                 time forward + backward; TFLOP/s counts the backward as\n"
    "                                 2.5x the forward (FlashAttention's convention)\n"
    "      --deterministic 0|1        the backward's mode (default 0, the peers' mode: the GPU\n"
    "                                 may add dQ with atomics; 1: bit-identical reruns)\n"
    "      --hide-launch              CUDA: hold the stream for 200 us (a host function) before\n"
    "                                 each timed call, so that its launches are queued before the\n"
    "                                 start event: GPU time, as FlashAttention-4's benchmark\n"
    "                                 reports it (default: the host's launch is timed too)\n"
    "      --ring N                   CUDA: a ring of N members, each holding seqlen tokens of\n"
    "                                 every sample (one thread and GPU k % GPUs each); TFLOP/s per\n"
    "                                 member; the ring's per-step profile (compute, transfers,\n"
    "                                 GB/s, share hidden); causal rows use the sym split\n"
    "      --transport local|nccl     the ring's transport (default local; nccl: a GPU each)\n"
    "  -J, --json FILE                also write the rows as JSON\n"
    "  -G, --grid fa2                 FlashAttention's benchmark grid: 16K tokens, hidden 2048,\n"
    "                                 head dims 64,128, seqlen 1K..16K, causal and full\n"
    "  -V, --version                  the version and exit\n"
    "  -h, --help                     this text\n"
    "Exit status: 0 every row ran and was right, 1 a row failed or was wrong, 2 usage or I/O.\n";

enum { OPT_BACKWARD = 256, OPT_RING, OPT_TRANSPORT, OPT_DETERMINISTIC, OPT_HIDE_LAUNCH };

static const struct option LONG_OPTIONS[] = {
    {"backend", required_argument, NULL, 'B'}, {"dtype", required_argument, NULL, 'd'},
    {"head-dim", required_argument, NULL, 'D'}, {"seqlen", required_argument, NULL, 's'},
    {"min-seqlen", required_argument, NULL, 'b'}, {"max-seqlen", required_argument, NULL, 'e'},
    {"tokens", required_argument, NULL, 't'},   {"hidden", required_argument, NULL, 'H'},
    {"batch", required_argument, NULL, 'N'},    {"heads", required_argument, NULL, 'Q'},
    {"gqa", required_argument, NULL, 'q'},      {"causal", required_argument, NULL, 'K'},
    {"dropout", required_argument, NULL, 'p'},  {"warmup", required_argument, NULL, 'w'},
    {"iters", required_argument, NULL, 'n'},    {"sgemm", required_argument, NULL, 'm'},
    {"seed", required_argument, NULL, 'S'},     {"json", required_argument, NULL, 'J'},
    {"grid", required_argument, NULL, 'G'},     {"help", no_argument, NULL, 'h'},
    {"check", required_argument, NULL, 'c'},    {"backward", no_argument, NULL, OPT_BACKWARD},
    {"deterministic", required_argument, NULL, OPT_DETERMINISTIC},
    {"hide-launch", no_argument, NULL, OPT_HIDE_LAUNCH},
    {"ring", required_argument, NULL, OPT_RING}, {"transport", required_argument, NULL, OPT_TRANSPORT},
    {"version", no_argument, NULL, 'V'},        {NULL, 0, NULL, 0}};
static const char SHORT_OPTIONS[] = "B:d:D:s:b:e:t:H:N:Q:q:K:p:w:n:m:S:J:G:c:Vh";

static int usage_error(const char *flag, const char *value, const char *expected)
{
    fprintf(stderr, "pattn-bench: %s %s: expected %s (see --help)\n", flag, value, expected);
    return 2;
}

/* A count with an optional binary suffix K, M or G (1K = 1024), at least min_value. */
static int parse_size(const char *flag, const char *text, int64_t min_value, int64_t *value)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    int shift = 0;
    if (*end == 'K' || *end == 'k')
        shift = 10;
    else if (*end == 'M' || *end == 'm')
        shift = 20;
    else if (*end == 'G' || *end == 'g')
        shift = 30;
    if (shift)
        ++end;
    if (errno || end == text || *end || v < min_value || v > (INT64_MAX >> shift))
        return usage_error(flag, text, min_value > 0 ? "a positive count (K/M/G allowed)"
                                                      : "a count >= 0 (K/M/G allowed)");
    *value = (int64_t)v << shift;
    return 0;
}

static int parse_int(const char *flag, const char *text, int min_value, int *value)
{
    int64_t v;
    if (parse_size(flag, text, min_value, &v))
        return 2;
    if (v > 1000000000)
        return usage_error(flag, text, "a count up to 1G");
    *value = (int)v;
    return 0;
}

/* A switch given as 0 or 1. */
static int parse_01(const char *flag, const char *text, int *value)
{
    if (strcmp(text, "0") && strcmp(text, "1"))
        return usage_error(flag, text, "0 or 1");
    *value = text[0] == '1';
    return 0;
}

/* A comma-separated list of positive sizes. */
static int parse_size_list(const char *flag, const char *text, int64_t *list, int *count)
{
    char buffer[512];
    if (strlen(text) >= sizeof buffer)
        return usage_error(flag, "(too long)", "a shorter list");
    strcpy(buffer, text);
    *count = 0;
    char *save = NULL;
    for (char *item = strtok_r(buffer, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        if (*count == BENCH_MAX_LIST)
            return usage_error(flag, text, "at most 32 values");
        if (parse_size(flag, item, 1, &list[(*count)++]))
            return 2;
    }
    return *count ? 0 : usage_error(flag, text, "a comma-separated list of sizes");
}

static int parse_dtypes(const char *text, bench_options_t *o)
{
    if (!strcmp(text, "all")) {
        o->num_dtypes = 3;
        o->dtypes[0] = PATTN_FP32;
        o->dtypes[1] = PATTN_FP16;
        o->dtypes[2] = PATTN_BF16;
        return 0;
    }
    char buffer[64];
    if (strlen(text) >= sizeof buffer)
        return usage_error("--dtype", text, "fp32, fp16, bf16 or all");
    strcpy(buffer, text);
    o->num_dtypes = 0;
    char *save = NULL;
    for (char *item = strtok_r(buffer, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        pattnDtype_t t;
        if (!strcmp(item, "fp32"))
            t = PATTN_FP32;
        else if (!strcmp(item, "fp16"))
            t = PATTN_FP16;
        else if (!strcmp(item, "bf16"))
            t = PATTN_BF16;
        else
            return usage_error("--dtype", text, "fp32, fp16, bf16 (comma list) or all");
        if (o->num_dtypes == 3)
            return usage_error("--dtype", text, "each dtype at most once");
        o->dtypes[o->num_dtypes++] = t;
    }
    return o->num_dtypes ? 0 : usage_error("--dtype", text, "fp32, fp16, bf16 or all");
}

static int parse_causal(const char *text, bench_options_t *o)
{
    if (!strcmp(text, "both")) {
        o->num_causal = 2;
        o->causal[0] = 1;
        o->causal[1] = 0;
    } else if (!strcmp(text, "0") || !strcmp(text, "1")) {
        o->num_causal = 1;
        o->causal[0] = text[0] - '0';
    } else {
        return usage_error("--causal", text, "0, 1 or both");
    }
    return 0;
}

static int parse_dropout(const char *text, double *p)
{
    char *end;
    errno = 0;
    *p = strtod(text, &end);
    if (errno || end == text || *end || !(*p >= 0.0 && *p < 1.0))
        return usage_error("--dropout", text, "a probability in [0, 1)");
    return 0;
}

static int parse_seed(const char *text, uint64_t *seed)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 0);
    if (errno || end == text || *end || text[0] == '-')
        return usage_error("--seed", text, "an unsigned 64-bit integer");
    *seed = (uint64_t)v;
    return 0;
}

/* Lengths from lo doubling up to hi. */
static int doubling_seqlens(int64_t lo, int64_t hi, bench_options_t *o)
{
    if (lo > hi) {
        fprintf(stderr, "pattn-bench: --min-seqlen %lld > --max-seqlen %lld\n", (long long)lo,
                (long long)hi);
        return 2;
    }
    o->num_seqlens = 0;
    for (int64_t l = lo; l <= hi && o->num_seqlens < BENCH_MAX_LIST; l *= 2)
        o->seqlens[o->num_seqlens++] = l;
    return 0;
}

static uint64_t clock_seed(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) ^ ((uint64_t)getpid() << 32);
}

/* What the user left unset: from --grid fa2 first, then the backend's defaults. */
static int fill_defaults(bench_options_t *o, int grid_fa2, int64_t min_seqlen, int64_t max_seqlen)
{
    int cuda = o->backend == PATTN_BACKEND_CUDA;
    if (min_seqlen != UNSET || max_seqlen != UNSET) {
        if (o->num_seqlens) {
            fprintf(stderr, "pattn-bench: give either --seqlen or --min-seqlen/--max-seqlen\n");
            return 2;
        }
        if (min_seqlen == UNSET)
            min_seqlen = 512;
        if (doubling_seqlens(min_seqlen, max_seqlen == UNSET ? min_seqlen : max_seqlen, o))
            return 2;
    }
    if (!o->num_seqlens && doubling_seqlens(grid_fa2 ? 1024 : 512,
                                            grid_fa2 || cuda ? 16384 : 2048, o))
        return 2;
    if (o->tokens == UNSET)
        o->tokens = grid_fa2 || cuda ? 16384 : 2048;
    if (o->hidden == UNSET)
        o->hidden = 2048;
    if (!o->num_head_dims) {
        o->num_head_dims = 2;
        o->head_dims[0] = 64;
        o->head_dims[1] = 128;
    }
    if (!o->num_causal)
        parse_causal("both", o);
    if (!o->num_dtypes) {
        o->num_dtypes = 1;
        o->dtypes[0] = PATTN_BF16;
    }
    if (o->warmup == UNSET)
        o->warmup = cuda ? 5 : 1;
    if (o->iters == UNSET)
        o->iters = cuda ? 20 : 3;
    if (o->sgemm == UNSET)
        o->sgemm = !cuda;
    return 0;
}

/* Head counts must divide evenly for every head dim of the grid. */
static int check_heads(const bench_options_t *o)
{
    for (int i = 0; i < o->num_head_dims; ++i) {
        int64_t d = o->head_dims[i];
        if (!o->heads && o->hidden % d) {
            fprintf(stderr, "pattn-bench: --hidden %lld is not a multiple of --head-dim %lld\n",
                    (long long)o->hidden, (long long)d);
            return 2;
        }
        int64_t heads = o->heads ? o->heads : o->hidden / d;
        if (heads % o->gqa) {
            fprintf(stderr, "pattn-bench: %lld query heads (head_dim %lld) are not a multiple of "
                            "--gqa %lld\n",
                    (long long)heads, (long long)d, (long long)o->gqa);
            return 2;
        }
    }
    return 0;
}

int bench_parse_options(int argc, char **argv, bench_options_t *o)
{
    *o = (bench_options_t){.backend = PATTN_BACKEND_REFERENCE, .tokens = UNSET, .hidden = UNSET,
                           .gqa = 1, .warmup = UNSET, .iters = UNSET, .sgemm = UNSET, .check = 1,
                           .transport = "local", .seed = clock_seed()};
    int64_t min_seqlen = UNSET, max_seqlen = UNSET;
    int grid_fa2 = 0, rc = 0, c;
    opterr = 0;
    while (!rc && (c = getopt_long(argc, argv, SHORT_OPTIONS, LONG_OPTIONS, NULL)) != -1) {
        switch (c) {
        case 'B':
            if (!strcmp(optarg, "reference"))
                o->backend = PATTN_BACKEND_REFERENCE;
            else if (!strcmp(optarg, "cuda"))
                o->backend = PATTN_BACKEND_CUDA;
            else
                rc = usage_error("--backend", optarg, "reference or cuda");
            break;
        case 'd': rc = parse_dtypes(optarg, o); break;
        case 'D': rc = parse_size_list("--head-dim", optarg, o->head_dims, &o->num_head_dims); break;
        case 's': rc = parse_size_list("--seqlen", optarg, o->seqlens, &o->num_seqlens); break;
        case 'b': rc = parse_size("--min-seqlen", optarg, 1, &min_seqlen); break;
        case 'e': rc = parse_size("--max-seqlen", optarg, 1, &max_seqlen); break;
        case 't': rc = parse_size("--tokens", optarg, 1, &o->tokens); break;
        case 'H': rc = parse_size("--hidden", optarg, 1, &o->hidden); break;
        case 'N': rc = parse_size("--batch", optarg, 1, &o->batch); break;
        case 'Q': rc = parse_size("--heads", optarg, 1, &o->heads); break;
        case 'q': rc = parse_size("--gqa", optarg, 1, &o->gqa); break;
        case 'K': rc = parse_causal(optarg, o); break;
        case 'c': rc = parse_01("--check", optarg, &o->check); break;
        case OPT_BACKWARD: o->backward = 1; break;
        case OPT_HIDE_LAUNCH: o->hide_launch = 1; break;
        case OPT_DETERMINISTIC: rc = parse_01("--deterministic", optarg, &o->deterministic); break;
        case OPT_RING: rc = parse_int("--ring", optarg, 2, &o->ring); break;
        case OPT_TRANSPORT:
            if (strcmp(optarg, "local") && strcmp(optarg, "nccl"))
                rc = usage_error("--transport", optarg, "local or nccl");
            o->transport = optarg;
            break;
        case 'V':
            printf("pattn-bench %d.%d (parallel_attn API %d, commit %s)\n", PATTN_VERSION_MAJOR,
                   PATTN_VERSION_MINOR, PATTN_API_VERSION, PATTN_GIT_COMMIT);
            return 1;
        case 'p': rc = parse_dropout(optarg, &o->dropout); break;
        case 'w': rc = parse_int("--warmup", optarg, 0, &o->warmup); break;
        case 'n': rc = parse_int("--iters", optarg, 1, &o->iters); break;
        case 'm': rc = parse_01("--sgemm", optarg, &o->sgemm); break;
        case 'S': rc = parse_seed(optarg, &o->seed); break;
        case 'J': o->json_path = optarg; break;
        case 'G':
            grid_fa2 = !strcmp(optarg, "fa2");
            if (!grid_fa2)
                rc = usage_error("--grid", optarg, "fa2");
            break;
        case 'h': fputs(USAGE, stdout); return 1;
        default:
            fprintf(stderr, "pattn-bench: unknown option or missing value: %s (see --help)\n",
                    argv[optind - 1]);
            rc = 2;
        }
    }
    if (!rc && optind < argc) {
        fprintf(stderr, "pattn-bench: unexpected argument %s (see --help)\n", argv[optind]);
        rc = 2;
    }
    if (!rc && o->hide_launch && (o->backend != PATTN_BACKEND_CUDA || o->ring)) {
        fprintf(stderr, "pattn-bench: --hide-launch times one GPU call: it needs --backend cuda "
                        "and no --ring\n");
        rc = 2;
    }
    if (!rc)
        rc = fill_defaults(o, grid_fa2, min_seqlen, max_seqlen);
    return rc ? rc : check_heads(o);
}
