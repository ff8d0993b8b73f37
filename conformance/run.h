/*
 * run.h: running one case on one backend. Outputs are poisoned with a NaN pattern before the
 * call, so elements the backend never wrote are recognised afterwards. Single-rank pipelines
 * run through pattnForward/pattnBackward; a ring of several members runs emulated in this
 * process (reference) or is skipped (cuda, until the NCCL backend runs one GPU per member).
 * A backward case runs the forward first and feeds the backward its own out and lse; when the
 * backend has no backward, the forward's outputs are still collected (forward_only).
 */
#ifndef CONF_RUN_H
#define CONF_RUN_H

#include <stdint.h>

#include "case.h"
#include "parallel_attn.h"

/* One output array as computed, widened to double. */
typedef struct conf_tensor {
    int present; /* the run produced it */
    int ndim;
    int64_t shape[4];
    int64_t count;
    double *values;
    unsigned char *unwritten; /* 1 where the poison survived the call */
} conf_tensor_t;

/* What one pipeline computed. */
typedef struct conf_outputs {
    conf_tensor_t tensor[CONF_NUM_OUTPUTS];
    int64_t rng_state[2]; /* exact (tensor[CONF_RNG_STATE] holds it widened) */
} conf_outputs_t;

typedef enum conf_run_status {
    CONF_RUN_OK,      /* outputs are ready to compare */
    CONF_RUN_FAILED,  /* the call or the harness failed: message says why */
    CONF_RUN_SKIPPED  /* the backend cannot run the case here: message says why */
} conf_run_status_t;

typedef struct conf_run {
    pattnBackend_t backend;
    conf_run_status_t status;
    char message[1400];
    int forward_only;        /* SKIPPED because the backward is unsupported, but the forward
                                ran: its outputs are present and can still be checked */
    double seconds;          /* wall time of the API calls */
    char transport[16];      /* the GPU ring's transport ("local", "nccl"), "" otherwise */
    int num_pipelines;
    conf_outputs_t *outputs; /* [num_pipelines]; tensors present only where a pipeline ran */
} conf_run_t;

/* The GPU ring's transport: "auto" (default: NCCL when the machine has a GPU per pipeline and
 * NCCL loads, else local), "local" or "nccl". */
extern const char *conf_ring_transport;

void run_case(const conf_case_t *c, pattnBackend_t backend, conf_run_t *run);
void run_free(conf_run_t *run);

#endif /* CONF_RUN_H */
