/*
 * blas_threads.c: keeps the BLAS single-threaded while the reference calls it from its own
 * OpenMP threads.
 *
 * The reference runs small sgemm calls on tiles from inside OpenMP parallel regions. OpenBLAS's
 * OpenMP build notices that (omp_in_parallel) and runs them on one thread; its pthreads build
 * does not, and every tile call then fans out to the BLAS thread pool as well, which on a loaded
 * machine makes the reference 10x slower or more. When the BLAS linked at run time is OpenBLAS
 * with pthreads, its thread count is set to 1 for the duration of the call and restored after.
 * The OpenBLAS functions are weak references, so any other CBLAS links and runs unchanged.
 * Two concurrent reference calls in one process may restore each other's setting early; that
 * costs speed, never correctness.
 */
#include "reference.h"

#if defined(__GNUC__) && defined(__ELF__)
#define REF_HAVE_WEAK 1
int openblas_get_parallel(void);
int openblas_get_num_threads(void);
void openblas_set_num_threads(int num_threads);
#pragma weak openblas_get_parallel
#pragma weak openblas_get_num_threads
#pragma weak openblas_set_num_threads
#endif

enum { OPENBLAS_PTHREADS = 1 }; /* openblas_get_parallel(): 0 sequential, 1 pthreads, 2 OpenMP */

int ref_blas_threads_begin(void)
{
#ifdef REF_HAVE_WEAK
    if (openblas_get_parallel && openblas_get_num_threads && openblas_set_num_threads &&
        openblas_get_parallel() == OPENBLAS_PTHREADS) {
        int saved = openblas_get_num_threads();
        if (saved > 1) {
            openblas_set_num_threads(1);
            return saved;
        }
    }
#endif
    return 0;
}

void ref_blas_threads_end(int saved)
{
#ifdef REF_HAVE_WEAK
    if (saved > 0)
        openblas_set_num_threads(saved);
#else
    (void)saved;
#endif
}
