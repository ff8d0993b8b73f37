/*
 * bench_machine.c: describing the machine of a pattn-bench run (bench_machine.h) from the CUDA
 * runtime (bench_cuda.c), /proc/driver/nvidia/version and /proc/cpuinfo.
 */
#define _POSIX_C_SOURCE 200809L
#include "bench_machine.h"

#include <stdio.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "bench_runner.h"

/* The value of the first line of path that starts with key, after `separator` and blanks. */
static void read_field(const char *path, const char *key, const char *separator, char *out,
                       size_t size)
{
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        char *at;
        if (strncmp(line, key, strlen(key)) || !(at = strstr(line, separator)))
            continue;
        at += strlen(separator);
        at += strspn(at, " \t");
        size_t n = strcspn(at, "\n");
        snprintf(out, size, "%.*s", (int)n, at);
        break;
    }
    fclose(f);
}

/* "580.159.04" out of "NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.159.04  Thu ..."
 * or "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.159.04  Release Build ...":
 * the first word after "Kernel Module" that starts with a digit and holds a dot. */
static void nvidia_driver(char *out, size_t size)
{
    char rest[256];
    read_field("/proc/driver/nvidia/version", "NVRM version", "Kernel Module", rest, sizeof rest);
    out[0] = '\0';
    for (char *w = rest; *w;) {
        w += strspn(w, " \t");
        size_t n = strcspn(w, " \t");
        if (n && w[0] >= '0' && w[0] <= '9' && memchr(w, '.', n)) {
            snprintf(out, size, "%.*s", (int)n, w);
            return;
        }
        w += n;
    }
}

void bench_machine_describe(const bench_options_t *opts, bench_machine_t *m)
{
    memset(m, 0, sizeof *m);
    read_field("/proc/cpuinfo", "model name", ":", m->cpu, sizeof m->cpu);
    nvidia_driver(m->driver, sizeof m->driver);
#ifdef PATTN_HAVE_CUDA
    if (opts->backend == PATTN_BACKEND_CUDA) {
        bench_describe_cuda_device(m->line, sizeof m->line, m->card, sizeof m->card);
        if (m->driver[0]) {
            size_t n = strlen(m->line);
            snprintf(m->line + n, sizeof m->line - n, ", driver %s", m->driver);
        }
        return;
    }
#endif
    snprintf(m->card, sizeof m->card, "%s", m->cpu);
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    const char *peak = bench_reset_peak_rss()
                           ? "reset to the current RSS before each row"
                           : "of the whole process (cannot reset it)";
    snprintf(m->line, sizeof m->line, "%s backend on %s, %d OpenMP thread(s), peak RSS (getrusage) %s",
             pattnBackendName(opts->backend), m->cpu[0] ? m->cpu : "an unknown CPU", threads, peak);
}
