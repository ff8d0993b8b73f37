/*
 * outputs.h: --outputs DIR, checking arrays computed elsewhere (another kernel, another
 * language) against the golden cases. DIR is laid out as --dump writes it: DIR/<case>/<label>/
 * holds out.<p>.npy, lse.<p>.npy, rng_state.<p>.npy, softmax.<p>.npy and dqkv.<p>.npy for
 * the case's pipelines <p>; each sub-folder <label> is reported like a backend of that name.
 * Float arrays are float32 or float64 (NaN marks an element the kernel did not write, as in a
 * dump), rng_state int64 or int32; absent files are outputs the kernel did not produce.
 */
#ifndef CONF_OUTPUTS_H
#define CONF_OUTPUTS_H

#include "case.h"
#include "error.h"
#include "run.h"

/* The labels (sub-folders) of root/<case_name>, sorted; none when that folder is missing.
 * *labels is malloc'd (free with case_names_free). */
int outputs_labels(const char *root, const char *case_name, char ***labels, int *count,
                   conf_error_t *err);

/* Reads folder's outputs for case c into run (status CONF_RUN_OK; release with run_free). */
int outputs_read(const char *folder, const conf_case_t *c, conf_run_t *run, conf_error_t *err);

#endif /* CONF_OUTPUTS_H */
