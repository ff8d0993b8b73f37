/*
 * dump.h: --dump DIR writes what a backend computed under DIR/<case>/<backend>/ with the
 * case's array names (out.<p>.npy, lse, rng_state, softmax, dqkv), for a look with numpy.
 */
#ifndef CONF_DUMP_H
#define CONF_DUMP_H

#include "case.h"
#include "error.h"
#include "run.h"

/* Creates path and its missing parents (mkdir -p). */
int dump_make_folders(const char *path, conf_error_t *err);

int dump_run(const char *dump_dir, const conf_case_t *c, const conf_run_t *run,
             conf_error_t *err);

#endif /* CONF_DUMP_H */
