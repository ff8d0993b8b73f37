/*
 * sgemm.c: which sgemm the reference calls from its OpenMP threads, decided once per process
 * from the BLAS that is actually loaded (Debian switches OpenBLAS builds under the same soname,
 * by alternatives or LD_LIBRARY_PATH), and said in pattnBackendInfo:
 * - OpenBLAS, OpenMP build: its sgemm. Inside the reference's parallel region (and with the
 *   region's nested thread count at 1, parallel.c) it runs on the calling thread.
 * - OpenBLAS, pthreads build: its sgemm, with OpenBLAS's process-wide thread count held at 1
 *   while any reference call is running (counted, so concurrent calls cannot restore it under
 *   each other); otherwise every tile would fan out to the BLAS pool and the kernel it picks
 *   would depend on how busy that pool is.
 * - OpenBLAS, serial build: not safe to call from several threads at once (its buffers are
 *   shared), so the built-in kernel (sgemm_builtin.c).
 * - Any other CBLAS: its sgemm, assumed reentrant as CBLAS libraries are.
 * PATTN_REFERENCE_SGEMM=builtin forces the built-in kernel, =blas the loaded BLAS.
 * The OpenBLAS functions are weak references, so any other CBLAS links and runs unchanged.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reference.h"

#if defined(__GNUC__) && defined(__ELF__)
#define REF_HAVE_WEAK 1
int openblas_get_parallel(void);
char *openblas_get_config(void);
int openblas_get_num_threads(void);
void openblas_set_num_threads(int num_threads);
#pragma weak openblas_get_parallel
#pragma weak openblas_get_config
#pragma weak openblas_get_num_threads
#pragma weak openblas_set_num_threads
#endif

typedef enum { USE_BLAS, USE_BLAS_PINNED, USE_BUILTIN } sgemm_path_t;

static pthread_once_t choice_once = PTHREAD_ONCE_INIT;
static sgemm_path_t choice;
static char description[512];

/* openblas_get_parallel(): 0 serial, 1 pthreads, 2 OpenMP; -1 when the BLAS is not OpenBLAS. */
static int openblas_parallel(void)
{
#ifdef REF_HAVE_WEAK
    if (openblas_get_parallel)
        return openblas_get_parallel();
#endif
    return -1;
}

static const char *blas_name(void)
{
#ifdef REF_HAVE_WEAK
    if (openblas_get_config)
        return openblas_get_config();
#endif
    return "a CBLAS other than OpenBLAS";
}

static void choose(void)
{
    static const char *const WHAT[] = {
        [USE_BLAS] = "sgemm from the BLAS, on the calling thread",
        [USE_BLAS_PINNED] = ("sgemm from the BLAS, its thread count held at 1 during "
                             "reference calls"),
        [USE_BUILTIN] = "the built-in sgemm"};
    int parallel = openblas_parallel();
#ifdef REF_HAVE_WEAK
    int can_pin = openblas_get_num_threads && openblas_set_num_threads;
#else
    int can_pin = 0;
#endif
    sgemm_path_t blas = parallel == 1 && can_pin ? USE_BLAS_PINNED : USE_BLAS;
    const char *force = getenv("PATTN_REFERENCE_SGEMM"), *why = "";
    if (force && strcmp(force, "builtin") == 0) {
        choice = USE_BUILTIN;
        why = " (PATTN_REFERENCE_SGEMM=builtin)";
    } else if (force && strcmp(force, "blas") == 0) {
        choice = blas;
        why = " (PATTN_REFERENCE_SGEMM=blas)";
    } else {
        choice = parallel == 0 ? USE_BUILTIN : blas;
        why = parallel == 0 ? " (this BLAS is not safe to call from several threads at once)" : "";
        if (force && *force)
            why = " (PATTN_REFERENCE_SGEMM ignored: expected builtin or blas)";
    }
    const char *build = parallel == 0 ? " (serial build)" : parallel == 1 ? " (pthreads build)"
                                      : parallel == 2 ? " (OpenMP build)" : "";
    snprintf(description, sizeof description, "%s%s: %s%s", blas_name(), build, WHAT[choice],
             why);
}

const char *ref_sgemm_describe(void)
{
    pthread_once(&choice_once, choose);
    return description;
}

/* Reference calls in flight, and the OpenBLAS thread count to restore when the last ends. */
static pthread_mutex_t pin_lock = PTHREAD_MUTEX_INITIALIZER;
static int pin_calls, pin_saved;

void ref_sgemm_begin(void)
{
    pthread_once(&choice_once, choose);
#ifdef REF_HAVE_WEAK
    if (choice != USE_BLAS_PINNED)
        return;
    pthread_mutex_lock(&pin_lock);
    if (pin_calls++ == 0) {
        pin_saved = openblas_get_num_threads();
        if (pin_saved > 1)
            openblas_set_num_threads(1);
    }
    pthread_mutex_unlock(&pin_lock);
#endif
}

void ref_sgemm_end(void)
{
#ifdef REF_HAVE_WEAK
    if (choice != USE_BLAS_PINNED)
        return;
    pthread_mutex_lock(&pin_lock);
    if (--pin_calls == 0 && pin_saved > 1)
        openblas_set_num_threads(pin_saved);
    pthread_mutex_unlock(&pin_lock);
#endif
}

void ref_sgemm(CBLAS_TRANSPOSE transa, CBLAS_TRANSPOSE transb, int m, int n, int k, float alpha,
               const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    if (choice == USE_BUILTIN)
        ref_sgemm_builtin(transa == CblasTrans, transb == CblasTrans, m, n, k, alpha, a, lda, b,
                          ldb, beta, c, ldc);
    else
        cblas_sgemm(CblasRowMajor, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
