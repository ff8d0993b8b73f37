/*
 * pattn_stress.c: the `pattn-stress` program. Several host threads call the forward and the
 * backward at once on fresh random configurations (single rank and emulated rings, packed or
 * not, every dtype, masks, dropout, grouped queries), and every result must be bit-identical to
 * a run of the same call alone on one thread, which itself must match the float64 oracle of
 * stress_oracle.c within conformance's tolerances. It prints which BLAS the reference uses, and
 * exits 0 only when no call failed or differed (1 otherwise, 2 on a usage error).
 *
 * Rounds: draw --configs configurations, run each alone (one host thread; one OpenMP thread
 * when the program has OpenMP), check it against the oracle, then let --threads host threads
 * run them in staggered orders until the round's time is up.
 */
#define _POSIX_C_SOURCE 200809L
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "stress_case.h"
#include "stress_oracle.h"

#define MAX_CONFIGS 16

typedef struct options {
    int threads, configs;
    double seconds, round_seconds;
    uint64_t seed;
} options_t;

typedef struct round {
    const options_t *o;
    int count;
    stress_case_t cases[MAX_CONFIGS];
    stress_result_t baseline[MAX_CONFIGS];
    double deadline;
    atomic_long calls, differ, failed;
    pthread_mutex_t report; /* one mismatch report at a time */
} round_t;

typedef struct worker {
    round_t *round;
    int index;
} worker_t;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: pattn-stress [--threads N] [--seconds S] [--configs K] [--round S] "
               "[--seed X]\n"
               "Host threads call forward and backward at once; every result must equal the\n"
               "same call run alone, and that must match the float64 oracle.\n"
               "  --threads N   host threads (default 4)\n"
               "  --seconds S   total time (default 10)\n"
               "  --configs K   configurations per round, at most %d (default 4)\n"
               "  --round S     seconds per round (default 2)\n"
               "  --seed X      random seed (default from the clock, printed)\n"
               "Exit status: 0 all equal, 1 a call failed or differed, 2 usage error.\n",
            MAX_CONFIGS);
}

static int parse_options(int argc, char **argv, options_t *o)
{
    static const struct option LONG[] = {{"threads", 1, 0, 't'}, {"seconds", 1, 0, 's'},
                                         {"configs", 1, 0, 'k'}, {"round", 1, 0, 'r'},
                                         {"seed", 1, 0, 'x'},    {"help", 0, 0, 'h'},
                                         {0, 0, 0, 0}};
    *o = (options_t){4, 4, 10.0, 2.0, (uint64_t)time(NULL) * 2654435761ull};
    int opt;
    char *end;
    while ((opt = getopt_long(argc, argv, "h", LONG, NULL)) != -1) {
        switch (opt) {
        case 't':
            o->threads = (int)strtol(optarg, &end, 10);
            break;
        case 's':
            o->seconds = strtod(optarg, &end);
            break;
        case 'k':
            o->configs = (int)strtol(optarg, &end, 10);
            break;
        case 'r':
            o->round_seconds = strtod(optarg, &end);
            break;
        case 'x':
            o->seed = strtoull(optarg, &end, 10);
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
        if (*end != '\0') {
            fprintf(stderr, "pattn-stress: %s: expected a number\n", optarg);
            return -1;
        }
    }
    if (optind < argc || o->threads < 1 || o->configs < 1 || o->configs > MAX_CONFIGS ||
        !(o->seconds > 0) || !(o->round_seconds > 0)) {
        usage(stderr);
        return -1;
    }
    return 0;
}

static void *worker_main(void *arg)
{
    const worker_t *w = arg;
    round_t *rd = w->round;
    /* At least one call per thread and round, however slow (sanitizer builds). */
    for (long iter = 0; iter == 0 || now() < rd->deadline; ++iter) {
        int i = (int)((w->index + iter) % rd->count);
        stress_result_t r;
        if (stress_result_alloc(&rd->cases[i], &r) == 0) {
            stress_case_run(&rd->cases[i], &r);
            atomic_fetch_add(&rd->calls, rd->cases[i].backward ? 2 : 1);
            if (!stress_results_equal(&rd->cases[i], &r, &rd->baseline[i])) {
                atomic_fetch_add(&rd->differ, 1);
                pthread_mutex_lock(&rd->report);
                printf("  DIFFER thread %d, config %d (%s): not bit-identical to the call run "
                       "alone%s%s\n", w->index, i, rd->cases[i].summary,
                       r.status ? ": " : "", r.status ? r.message : "");
                pthread_mutex_unlock(&rd->report);
            }
        } else {
            atomic_fetch_add(&rd->failed, 1);
        }
        stress_result_free(&r);
    }
    return NULL;
}

/* Runs every configuration alone and checks it against the oracle; returns the failures. */
static long run_baselines(round_t *rd)
{
    long failures = 0;
#ifdef _OPENMP
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
#endif
    for (int i = 0; i < rd->count; ++i) {
        stress_case_t *c = &rd->cases[i];
        char why[512] = "";
        int64_t bad = -1;
        if (stress_result_alloc(c, &rd->baseline[i]) == 0) {
            stress_case_run(c, &rd->baseline[i]);
            if (rd->baseline[i].status != pattnSuccess)
                snprintf(why, sizeof why, "%s", rd->baseline[i].message);
            else
                bad = stress_oracle_check(c, &rd->baseline[i], why, sizeof why);
        }
        if (bad != 0) {
            ++failures;
            printf("  FAIL config %d (%s): %s%s\n", i, c->summary,
                   bad > 0 ? "outside the oracle's tolerance: " : "", why[0] ? why : "out of memory");
        }
    }
#ifdef _OPENMP
    omp_set_num_threads(threads);
#endif
    return failures;
}

int main(int argc, char **argv)
{
    options_t o;
    if (parse_options(argc, argv, &o))
        return 2;
    printf("pattn-stress: reference: %s\n", pattnBackendInfo(PATTN_BACKEND_REFERENCE));
    printf("pattn-stress: %d host threads, %g s, %d configurations per round, seed %llu "
           "(repeat: --seed %llu)\n", o.threads, o.seconds, o.configs,
           (unsigned long long)o.seed, (unsigned long long)o.seed);
    fflush(stdout);
    uint64_t rng = o.seed;
    long calls = 0, differ = 0, failed = 0, configs = 0;
    double end = now() + o.seconds;
    pthread_t tids[64];
    worker_t workers[64];
    int threads = o.threads < 64 ? o.threads : 64;
    for (int round_no = 1; now() < end; ++round_no) {
        round_t *rd = calloc(1, sizeof *rd);
        if (!rd)
            return 1;
        rd->o = &o;
        pthread_mutex_init(&rd->report, NULL);
        for (rd->count = 0; rd->count < o.configs; ++rd->count)
            if (stress_case_make(&rng, &rd->cases[rd->count])) {
                fprintf(stderr, "pattn-stress: out of memory\n");
                return 1;
            }
        failed += run_baselines(rd);
        configs += rd->count;
        double round_end = now() + o.round_seconds;
        rd->deadline = round_end < end ? round_end : end;
        for (int t = 0; t < threads; ++t) {
            workers[t] = (worker_t){rd, t};
            pthread_create(&tids[t], NULL, worker_main, &workers[t]);
        }
        for (int t = 0; t < threads; ++t)
            pthread_join(tids[t], NULL);
        printf("round %d: %ld calls, %ld differ\n", round_no, (long)rd->calls, (long)rd->differ);
        fflush(stdout);
        calls += rd->calls;
        differ += rd->differ;
        failed += rd->failed;
        for (int i = 0; i < rd->count; ++i) {
            stress_result_free(&rd->baseline[i]);
            stress_case_free(&rd->cases[i]);
        }
        pthread_mutex_destroy(&rd->report);
        free(rd);
    }
    printf("pattn-stress: %ld configurations, %ld calls from %d threads: %ld not bit-identical "
           "to the call run alone, %ld failed or outside the oracle's tolerance: %s\n",
           configs, calls, threads, differ, failed, differ || failed ? "FAIL" : "PASS");
    return differ || failed ? 1 : 0;
}
