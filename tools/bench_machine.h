/*
 * bench_machine.h: what pattn-bench's rows run on, for its header and its JSON: one line for the
 * header, the card (CUDA device name) or CPU model, the NVIDIA driver version, the CPU model.
 */
#ifndef PATTN_BENCH_MACHINE_H
#define PATTN_BENCH_MACHINE_H

#include "bench_options.h"

typedef struct bench_machine {
    char line[640];   /* the header's machine line */
    char card[256];   /* the CUDA device's name, or the CPU model on the reference */
    char driver[128]; /* the NVIDIA kernel driver's version, "" when there is none */
    char cpu[256];    /* the CPU model ("" when unknown) */
} bench_machine_t;

void bench_machine_describe(const bench_options_t *opts, bench_machine_t *m);

#endif /* PATTN_BENCH_MACHINE_H */
