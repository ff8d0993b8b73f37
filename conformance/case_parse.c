/*
 * case_parse.c: reading case.txt (case.h). One `key = value` per line; blank lines and lines
 * starting with # are ignored, and a # starts a trailing comment on any line except `source`
 * (free text to the end of the line). Every error names the file, the line and the key.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "case.h"

typedef enum value_kind {
    KIND_DTYPE,  /* fp32 | fp16 | bf16 */
    KIND_INT64,  /* decimal integer in [min, max] */
    KIND_INT,    /* the same, stored in an int */
    KIND_DOUBLE, /* finite decimal in [min, max), max = INFINITY for no bound */
    KIND_U64,    /* unsigned 64-bit, decimal or 0x hex */
    KIND_LIST,   /* strategies separated by ';', pipelines by ',' */
    KIND_SPLIT,  /* contiguous | sym */
    KIND_TEXT,   /* free text */
    KIND_TOLERANCE
} value_kind_t;

typedef struct key_spec {
    const char *key;
    value_kind_t kind;
    size_t offset;
    double min, max;
    int required;
} key_spec_t;

#define AT(field) offsetof(conf_case_config_t, field)
static const key_spec_t KEYS[] = {
    {"dtype", KIND_DTYPE, AT(dtype), 0, 0, 1},
    {"head_dim", KIND_INT64, AT(head_dim), 1, 1e9, 1},
    {"group_query_ratio", KIND_INT64, AT(group_query_ratio), 1, 1e9, 1},
    {"seq_lens", KIND_LIST, AT(seq_lens), 0, 0, 1},
    {"cp_groups", KIND_LIST, AT(cp_groups), 0, 0, 1},
    {"strategy", KIND_INT, AT(strategy), 0, 1e9, 0},
    {"split", KIND_SPLIT, AT(split), 0, 0, 0},
    {"packing", KIND_INT, AT(packing), 0, 1, 0},
    {"is_causal", KIND_INT, AT(is_causal), 0, 1, 0},
    {"return_softmax", KIND_INT, AT(return_softmax), 0, 1, 0},
    {"max_seqlen_q", KIND_INT64, AT(max_seqlen_q), 0, 2147483647.0, 0},
    {"max_seqlen_k", KIND_INT64, AT(max_seqlen_k), 0, 2147483647.0, 0},
    {"p_dropout", KIND_DOUBLE, AT(p_dropout), 0, 1, 0},
    {"softmax_scale", KIND_DOUBLE, AT(softmax_scale), -INFINITY, INFINITY, 0},
    {"rng_seed", KIND_U64, AT(rng_seed), 0, 0, 0},
    {"rng_offset", KIND_U64, AT(rng_offset), 0, 0, 0},
    {"backward", KIND_INT, AT(backward), 0, 1, 0},
    {"deterministic", KIND_INT, AT(deterministic), 0, 1, 0},
    {"atol_out", KIND_TOLERANCE, 0, 0, 0, 0},
    {"rtol_out", KIND_TOLERANCE, 0, 0, 0, 0},
    {"atol_lse", KIND_TOLERANCE, 0, 0, 0, 0},
    {"atol_dqkv", KIND_TOLERANCE, 0, 0, 0, 0},
    {"rtol_dqkv", KIND_TOLERANCE, 0, 0, 0, 0},
    {"naive_err_out", KIND_TOLERANCE, 0, 0, 0, 0},
    {"naive_err_dqkv", KIND_TOLERANCE, 0, 0, 0, 0},
    {"source", KIND_TEXT, AT(source), 0, 0, 0},
};
#undef AT
#define NUM_KEYS (sizeof KEYS / sizeof KEYS[0])

/* A parsed list as written: values strategy after strategy, pipelines per strategy. */
typedef struct list_value {
    int64_t *values;
    int *counts;
    int strategies, total;
    int line;
    char text[256];
} list_value_t;

typedef struct parse_state {
    const char *path;
    int line;
    const char *key;
    const char *value;
    conf_error_t *err;
    int seen[NUM_KEYS];
    list_value_t lists[2]; /* seq_lens, cp_groups */
} parse_state_t;

static int bad_value(const parse_state_t *st, const char *expected)
{
    return conf_fail(st->err, "%s:%d: key '%s' = '%s': expected %s", st->path, st->line, st->key,
                     st->value, expected);
}

static int parse_integer(const parse_state_t *st, double min, double max, int64_t *out)
{
    const char *s = st->value;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE)
        return bad_value(st, "an integer");
    if ((double)v < min || (double)v > max) {
        char want[96];
        if (max >= 1e9)
            snprintf(want, sizeof want, "an integer >= %.0f", min);
        else
            snprintf(want, sizeof want, "an integer in [%.0f, %.0f]", min, max);
        return bad_value(st, want);
    }
    *out = v;
    return 0;
}

static int parse_double(const parse_state_t *st, double min, double max, double *out)
{
    const char *s = st->value;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v))
        return bad_value(st, "a finite decimal number");
    if (v < min || (isfinite(max) && v >= max)) {
        char want[96];
        snprintf(want, sizeof want, "a decimal in [%g, %g)", min, max);
        return bad_value(st, want);
    }
    *out = v;
    return 0;
}

static int parse_u64(const parse_state_t *st, uint64_t *out)
{
    const char *s = st->value;
    int hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
    if (!(hex ? s[2] != '\0' : (s[0] >= '0' && s[0] <= '9')))
        return bad_value(st, "an unsigned 64-bit integer (decimal or 0x hex)");
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, hex ? 16 : 10);
    if (*end != '\0' || errno == ERANGE)
        return bad_value(st, "an unsigned 64-bit integer (decimal or 0x hex)");
    *out = v;
    return 0;
}

static int grow(void **array, int *cap, int need, size_t item)
{
    if (need <= *cap)
        return 0;
    int cap2 = *cap ? 2 * *cap : 16;
    void *grown = realloc(*array, (size_t)cap2 * item);
    if (!grown)
        return -1;
    *array = grown;
    *cap = cap2;
    return 0;
}

/* "64,64,32 ; 160": non-negative integers, pipelines separated by ',', strategies by ';'. */
static int parse_list(parse_state_t *st, list_value_t *list)
{
    int cap_values = 0, cap_counts = 0;
    list->strategies = list->total = 0;
    const char *s = st->value;
    for (int in_strategy = 0;;) {
        while (*s == ' ' || *s == '\t')
            ++s;
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (end == s || errno == ERANGE || v < 0)
            return bad_value(st, "non-negative integers, pipelines separated by ',' and "
                                 "strategies by ';' (e.g. 64,64,32 ; 160)");
        if (grow((void **)&list->values, &cap_values, list->total + 1, sizeof *list->values))
            return conf_fail(st->err, "%s:%d: out of memory", st->path, st->line);
        list->values[list->total++] = v;
        ++in_strategy;
        for (s = end; *s == ' ' || *s == '\t'; ++s)
            ;
        if (*s == ',') {
            ++s;
            continue;
        }
        if (*s != ';' && *s != '\0')
            return bad_value(st, "integers separated by ',' (pipelines) and ';' (strategies)");
        if (grow((void **)&list->counts, &cap_counts, list->strategies + 1, sizeof *list->counts))
            return conf_fail(st->err, "%s:%d: out of memory", st->path, st->line);
        list->counts[list->strategies++] = in_strategy;
        in_strategy = 0;
        if (*s++ == '\0')
            break;
    }
    list->line = st->line;
    snprintf(list->text, sizeof list->text, "%s", st->value);
    return 0;
}

static int parse_value(parse_state_t *st, const key_spec_t *k, conf_case_config_t *cfg)
{
    void *field = (char *)cfg + k->offset;
    int64_t v;
    switch (k->kind) {
    case KIND_DTYPE:
        if (strcmp(st->value, "fp32") == 0)
            cfg->dtype = PATTN_FP32;
        else if (strcmp(st->value, "fp16") == 0)
            cfg->dtype = PATTN_FP16;
        else if (strcmp(st->value, "bf16") == 0)
            cfg->dtype = PATTN_BF16;
        else
            return bad_value(st, "fp32, fp16 or bf16");
        return 0;
    case KIND_SPLIT:
        if (strcmp(st->value, "contiguous") == 0)
            cfg->split = PATTN_SPLIT_CONTIGUOUS;
        else if (strcmp(st->value, "sym") == 0)
            cfg->split = PATTN_SPLIT_SYM;
        else
            return bad_value(st, "contiguous or sym");
        return 0;
    case KIND_INT64:
        return parse_integer(st, k->min, k->max, (int64_t *)field);
    case KIND_INT:
        if (parse_integer(st, k->min, k->max, &v))
            return -1;
        *(int *)field = (int)v;
        return 0;
    case KIND_DOUBLE:
        return parse_double(st, k->min, k->max, (double *)field);
    case KIND_U64:
        return parse_u64(st, (uint64_t *)field);
    case KIND_LIST: {
        int which = strcmp(k->key, "seq_lens") == 0 ? 0 : 1;
        return parse_list(st, &st->lists[which]);
    }
    case KIND_TOLERANCE:
        return parse_double(st, 0, INFINITY, tolerance_field(&cfg->tolerance, k->key));
    case KIND_TEXT:
        snprintf((char *)field, sizeof cfg->source, "%s", st->value);
        return 0;
    }
    return 0;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        ++s;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
        *--e = '\0';
    return s;
}

static int parse_line(parse_state_t *st, char *line, conf_case_config_t *cfg)
{
    char *s = trim(line);
    if (*s == '\0' || *s == '#')
        return 0;
    char *eq = strchr(s, '=');
    if (!eq)
        return conf_fail(st->err, "%s:%d: '%s': expected `key = value`", st->path, st->line, s);
    *eq = '\0';
    char *key = trim(s), *value = eq + 1;
    size_t k = 0;
    while (k < NUM_KEYS && strcmp(KEYS[k].key, key) != 0)
        ++k;
    if (k == NUM_KEYS)
        return conf_fail(st->err, "%s:%d: unknown key '%s' (see SPEC section 6 for the keys)",
                         st->path, st->line, key);
    if (st->seen[k])
        return conf_fail(st->err, "%s:%d: key '%s' given a second time (first on line %d)",
                         st->path, st->line, key, st->seen[k]);
    st->seen[k] = st->line;
    if (KEYS[k].kind != KIND_TEXT) {
        char *hash = strchr(value, '#');
        if (hash)
            *hash = '\0';
    }
    st->key = key;
    st->value = trim(value);
    if (*st->value == '\0' && KEYS[k].kind != KIND_TEXT)
        return conf_fail(st->err, "%s:%d: key '%s' has no value", st->path, st->line, key);
    return parse_value(st, &KEYS[k], cfg);
}

/* Fills the strategies x pipelines tables of cfg. Strategies may list different numbers of
 * pipelines (the SPEC's "64,64,32 ; 160"); the API takes a rectangle, so a shorter strategy is
 * padded with pipelines of length 0, each alone in a group of its own. */
static int build_tables(parse_state_t *st, conf_case_config_t *cfg)
{
    const list_value_t *lens = &st->lists[0], *groups = &st->lists[1];
    int width = 0;
    for (int i = 0; i < lens->strategies; ++i)
        width = lens->counts[i] > width ? lens->counts[i] : width;
    size_t cells = (size_t)lens->strategies * (size_t)width;
    cfg->seq_lens = calloc(cells, sizeof *cfg->seq_lens);
    cfg->cp_groups = calloc(cells, sizeof *cfg->cp_groups);
    if (!cfg->seq_lens || !cfg->cp_groups)
        return conf_fail(st->err, "%s: out of memory", st->path);
    cfg->num_strategies = lens->strategies;
    cfg->num_pipelines = width;
    for (int i = 0, from = 0; i < lens->strategies; from += lens->counts[i++]) {
        int64_t next_group = 0;
        for (int q = 0; q < lens->counts[i]; ++q) {
            cfg->seq_lens[i * width + q] = lens->values[from + q];
            cfg->cp_groups[i * width + q] = groups->values[from + q];
            if (groups->values[from + q] >= next_group)
                next_group = groups->values[from + q] + 1;
        }
        for (int q = lens->counts[i]; q < width; ++q)
            cfg->cp_groups[i * width + q] = next_group++;
    }
    return 0;
}

/* Checks that need the whole file: required keys, list shapes, the strategy index. */
static int check_whole(parse_state_t *st, conf_case_config_t *cfg)
{
    for (size_t k = 0; k < NUM_KEYS; ++k)
        if (KEYS[k].required && !st->seen[k])
            return conf_fail(st->err, "%s: key '%s' is missing (it has no default)", st->path,
                             KEYS[k].key);
    const list_value_t *lens = &st->lists[0], *groups = &st->lists[1];
    int same = lens->strategies == groups->strategies;
    for (int i = 0; same && i < lens->strategies; ++i)
        same = lens->counts[i] == groups->counts[i];
    if (!same)
        return conf_fail(st->err, "%s:%d: key 'cp_groups' = '%s' does not have the shape of "
                         "seq_lens (line %d) = '%s': the same strategies (';') with the same "
                         "pipelines (',') each",
                         st->path, groups->line, groups->text, lens->line, lens->text);
    return build_tables(st, cfg);
}

/* The strategy index must name one of the strategies. */
static int check_strategy(parse_state_t *st, conf_case_config_t *cfg)
{
    size_t strategy_key = 0;
    while (strcmp(KEYS[strategy_key].key, "strategy") != 0)
        ++strategy_key;
    if (cfg->strategy >= cfg->num_strategies)
        return conf_fail(st->err, "%s:%d: key 'strategy' = %d: expected an index below the %d "
                         "strategies of seq_lens", st->path, st->seen[strategy_key],
                         cfg->strategy, cfg->num_strategies);
    cfg->active_pipelines = st->lists[0].counts[cfg->strategy];
    return 0;
}

static void set_defaults(conf_case_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->dtype = PATTN_FP32;
    cfg->group_query_ratio = 1;
    cfg->split = PATTN_SPLIT_CONTIGUOUS;
    cfg->is_causal = 1;
    cfg->softmax_scale = -1.0;
    cfg->deterministic = 1;
    cfg->tolerance = tolerance_unset();
}

int case_parse_file(const char *path, conf_case_config_t *cfg, conf_error_t *err)
{
    set_defaults(cfg);
    FILE *f = fopen(path, "r");
    if (!f)
        return conf_fail(err, "%s: cannot open: %s", path, strerror(errno));
    int rc = case_parse_stream(f, path, cfg, err);
    fclose(f);
    return rc;
}

int case_parse_stream(FILE *f, const char *path, conf_case_config_t *cfg, conf_error_t *err)
{
    set_defaults(cfg);
    parse_state_t st = {.path = path, .err = err};
    char *line = NULL;
    size_t cap = 0;
    int rc = 0;
    ssize_t len;
    while (rc == 0 && (len = getline(&line, &cap, f)) != -1) {
        ++st.line;
        /* A NUL inside a line would silently cut it short for the string functions below. */
        rc = memchr(line, '\0', (size_t)len)
                 ? conf_fail(err, "%s:%d: a NUL byte inside the line: not a text file", path,
                             st.line)
                 : parse_line(&st, line, cfg);
    }
    if (rc == 0 && ferror(f))
        rc = conf_fail(err, "%s: read error after line %d", path, st.line);
    free(line);
    if (rc == 0)
        rc = check_whole(&st, cfg);
    if (rc == 0)
        rc = check_strategy(&st, cfg);
    for (int i = 0; i < 2; ++i) {
        free(st.lists[i].values);
        free(st.lists[i].counts);
    }
    if (rc)
        case_config_free(cfg);
    return rc;
}

void case_config_free(conf_case_config_t *cfg)
{
    free(cfg->seq_lens);
    free(cfg->cp_groups);
    cfg->seq_lens = cfg->cp_groups = NULL;
}
