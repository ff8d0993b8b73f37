/*
 * dump.c: writing a run's outputs as .npy files (dump.h). Float outputs are written as
 * float32 (fp16/bf16 widen exactly; elements never written stay NaN), rng_state as int64.
 */
#define _POSIX_C_SOURCE 200809L
#include "dump.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int dump_make_folders(const char *path, conf_error_t *err)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1;; ++p) {
        if (*p != '/' && *p != '\0')
            continue;
        char end = *p;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return conf_fail(err, "%s: cannot create the folder: %s", buf, strerror(errno));
        *p = end;
        if (end == '\0')
            return 0;
    }
}

static int dump_tensor(const char *path, conf_output_t which, const conf_tensor_t *t,
                       const int64_t *rng_state, conf_error_t *err)
{
    npy_array_t a;
    if (npy_alloc(&a, which == CONF_RNG_STATE ? NPY_I8 : NPY_F4, t->ndim, t->shape, err))
        return -1;
    for (int64_t i = 0; i < t->count; ++i) {
        if (which == CONF_RNG_STATE)
            ((int64_t *)a.data)[i] = rng_state[i];
        else
            ((float *)a.data)[i] = (float)t->values[i];
    }
    int rc = npy_write(path, &a, err);
    npy_free(&a);
    return rc;
}

int dump_run(const char *dump_dir, const conf_case_t *c, const conf_run_t *run,
             conf_error_t *err)
{
    char dir[4096], path[4400];
    snprintf(dir, sizeof dir, "%s/%s/%s", dump_dir, c->name, pattnBackendName(run->backend));
    if (dump_make_folders(dir, err))
        return -1;
    for (int p = 0; p < run->num_pipelines; ++p)
        for (int w = 0; w < CONF_NUM_OUTPUTS; ++w) {
            const conf_tensor_t *t = &run->outputs[p].tensor[w];
            if (!t->present)
                continue;
            snprintf(path, sizeof path, "%s/%s.%d.npy", dir, conf_output_name((conf_output_t)w),
                     p);
            if (dump_tensor(path, (conf_output_t)w, t, run->outputs[p].rng_state, err))
                return -1;
        }
    return 0;
}
