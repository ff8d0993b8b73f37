/*
 * outputs.c: reading the outputs of --outputs DIR into a conf_run_t, as if a backend had
 * computed them (outputs.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "outputs.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int outputs_labels(const char *root, const char *case_name, char ***labels, int *count,
                   conf_error_t *err)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/%s", root, case_name);
    *labels = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int cap = 0, oom = 0;
    for (struct dirent *e; !oom && (e = readdir(d));) {
        char path[4500];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (e->d_name[0] == '.' || stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
            continue;
        if (*count == cap) {
            cap = cap ? 2 * cap : 8;
            char **grown = realloc(*labels, (size_t)cap * sizeof *grown);
            if (!(oom = !grown))
                *labels = grown;
        }
        if (!oom && !(oom = !((*labels)[*count] = strdup(e->d_name))))
            ++*count;
    }
    closedir(d);
    if (oom) {
        case_names_free(*labels, *count);
        *labels = NULL;
        *count = 0;
        return conf_fail(err, "%s: out of memory listing the output folders", dir);
    }
    if (*count)
        qsort(*labels, (size_t)*count, sizeof **labels, compare_names);
    return 0;
}

/* One output file into t (and for rng_state the exact pair into rng_state). */
static int read_tensor(const char *path, conf_output_t which, conf_tensor_t *t, int64_t *rng_state,
                       conf_error_t *err)
{
    npy_array_t a;
    if (npy_read(path, &a, err))
        return -1;
    int rng = which == CONF_RNG_STATE, rc = 0;
    char shape[128];
    if (rng ? (a.dtype != NPY_I8 && a.dtype != NPY_I4) : (a.dtype != NPY_F4 && a.dtype != NPY_F8))
        rc = conf_fail(err, "%s: dtype %s: expected %s", path, npy_descr(a.dtype),
                       rng ? "<i8 (int64 [seed, offset])" : "<f4 or <f8");
    else if (a.ndim > 4 || (rng && a.count != 2))
        rc = conf_fail(err, "%s: shape %s: expected %s", path,
                       npy_format_shape(a.ndim, a.shape, shape, sizeof shape),
                       rng ? "(2,)" : "at most 4 dimensions");
    if (rc == 0) {
        t->ndim = a.ndim;
        memcpy(t->shape, a.shape, (size_t)a.ndim * sizeof *a.shape);
        t->count = a.count;
        t->values = malloc((size_t)(a.count ? a.count : 1) * sizeof *t->values);
        t->unwritten = calloc((size_t)(a.count ? a.count : 1), 1);
        if (!t->values || !t->unwritten)
            rc = conf_fail(err, "%s: out of memory", path);
    }
    for (int64_t i = 0; rc == 0 && i < a.count; ++i) {
        t->values[i] = npy_get_f64(&a, i);
        if (rng)
            rng_state[i] = npy_get_i64(&a, i);
        else
            t->unwritten[i] = (unsigned char)isnan(t->values[i]);
    }
    t->present = rc == 0;
    npy_free(&a);
    return rc;
}

int outputs_read(const char *folder, const conf_case_t *c, conf_run_t *run, conf_error_t *err)
{
    memset(run, 0, sizeof *run);
    run->status = CONF_RUN_OK;
    run->num_pipelines = c->cfg.num_pipelines;
    if (!(run->outputs = calloc((size_t)c->cfg.num_pipelines, sizeof *run->outputs)))
        return conf_fail(err, "out of memory");
    for (int p = 0; p < c->cfg.num_pipelines; ++p) {
        if (!c->pipes[p].present)
            continue;
        for (int w = 0; w < CONF_NUM_OUTPUTS; ++w) {
            char path[4400];
            snprintf(path, sizeof path, "%s/%s.%d.npy", folder,
                     conf_output_name((conf_output_t)w), p);
            if (case_is_file(path) && read_tensor(path, (conf_output_t)w,
                                                  &run->outputs[p].tensor[w],
                                                  run->outputs[p].rng_state, err)) {
                run_free(run);
                return -1;
            }
        }
    }
    return 0;
}
