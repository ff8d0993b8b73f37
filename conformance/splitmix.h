/*
 * splitmix.h: splitmix64, the one pseudo-random generator of the harness, the test suites and the
 * tools (the random cross-check's draws, the Criterion suites, pattn-bench's and pattn-stress's
 * inputs, the GPU selftests): a full-period 64-bit sequence from any seed.
 */
#ifndef PATTN_SPLITMIX_H
#define PATTN_SPLITMIX_H

#include <stdint.h>

static inline uint64_t pattn_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

#endif /* PATTN_SPLITMIX_H */
