/*
 * registry.cu: the registry table (registry.h), one entry per line of kernels.def, with each
 * entry's tile read from its kernel's configuration (config.h), and the pick of a kernel.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "registry.h"
#include "status.h"

namespace {

using namespace pattn;

/* What each family runs: its pass, family, whether it runs its head dim only, its item tile;
 * and, where it differs from Defaults, the problems it is restricted to (without dropout; causal
 * only from a query length), whether it fuses dQ into dK/dV and the query sub-tile of its dQ
 * reductions. */
struct Defaults {
    static constexpr int NO_DROPOUT = 0, CAUSAL_MIN_LQ = 0, FUSED_DQ = 0, DQ_ROWS = 0;
};
template <int D> struct Traits_bwd_tma : Defaults {
    static constexpr pattn_cuda_pass_t PASS = PATTN_CUDA_PASS_DKDV;
    static constexpr pattn_cuda_family_t FAMILY = PATTN_CUDA_FAMILY_TMA;
    static constexpr int EXACT = 1, ROWS = TmaBwd<D>::ROWS;
    /* dQ by fp32 reductions of BQ-query sub-tiles (in a fixed order when deterministic) */
    static constexpr int FUSED_DQ = 1, DQ_ROWS = TmaBwd<D>::BQ;
};
template <int D> struct Traits_fwd_tma : Defaults {
    static constexpr pattn_cuda_pass_t PASS = PATTN_CUDA_PASS_FWD;
    static constexpr pattn_cuda_family_t FAMILY = PATTN_CUDA_FAMILY_TMA;
    static constexpr int EXACT = 1, ROWS = TmaFwd<D>::ROWS;
};
/* Three consumer warpgroups, measured on the H200 against two (PERF.md, before 56596fd changed
 * both): full attention 1.05-1.13x from 2K, dropout 0.94-0.97x; causal (again after 36bb3d6)
 * 1.05x at 1536 queries, 1.03x at 2K, 1.09x at 3K, but 0.88x at 1K. */
template <int D> struct Traits_fwd_tma_wide : Defaults {
    static constexpr pattn_cuda_pass_t PASS = PATTN_CUDA_PASS_FWD;
    static constexpr pattn_cuda_family_t FAMILY = PATTN_CUDA_FAMILY_TMA;
    static constexpr int EXACT = 1, ROWS = TmaFwd<D, 3>::ROWS, NO_DROPOUT = 1, CAUSAL_MIN_LQ = 1536;
};
template <int D> struct Traits_fwd_wgmma : Defaults {
    static constexpr pattn_cuda_pass_t PASS = PATTN_CUDA_PASS_FWD;
    static constexpr pattn_cuda_family_t FAMILY = PATTN_CUDA_FAMILY_WGMMA;
    static constexpr int EXACT = 1, ROWS = WgmmaFwd<D>::ROWS;
};
template <int D> struct Traits_fwd_mma : Defaults {
    static constexpr pattn_cuda_pass_t PASS = PATTN_CUDA_PASS_FWD;
    static constexpr pattn_cuda_family_t FAMILY = PATTN_CUDA_FAMILY_MMA;
    static constexpr int EXACT = 0, ROWS = MmaFwd<D>::ROWS;
};
template <int D> struct Traits_fwd_simt : Defaults {
    static constexpr pattn_cuda_pass_t PASS = PATTN_CUDA_PASS_FWD;
    static constexpr pattn_cuda_family_t FAMILY = PATTN_CUDA_FAMILY_GENERAL;
    static constexpr int EXACT = 0, ROWS = SimtFwd::ROWS;
};
template <int D> struct Traits_bwd_dkdv_mma : Defaults {
    static constexpr pattn_cuda_pass_t PASS = PATTN_CUDA_PASS_DKDV;
    static constexpr pattn_cuda_family_t FAMILY = PATTN_CUDA_FAMILY_MMA;
    static constexpr int EXACT = 0, ROWS = MmaDkdv<D>::ROWS;
};
template <int D> struct Traits_bwd_dkdv_simt : Defaults {
    static constexpr pattn_cuda_pass_t PASS = PATTN_CUDA_PASS_DKDV;
    static constexpr pattn_cuda_family_t FAMILY = PATTN_CUDA_FAMILY_GENERAL;
    static constexpr int EXACT = 0, ROWS = SimtDkdv::ROWS;
};
template <int D> struct Traits_bwd_dq_mma : Defaults {
    static constexpr pattn_cuda_pass_t PASS = PATTN_CUDA_PASS_DQ;
    static constexpr pattn_cuda_family_t FAMILY = PATTN_CUDA_FAMILY_MMA;
    static constexpr int EXACT = 0, ROWS = MmaDq<D>::ROWS;
};
template <int D> struct Traits_bwd_dq_simt : Defaults {
    static constexpr pattn_cuda_pass_t PASS = PATTN_CUDA_PASS_DQ;
    static constexpr pattn_cuda_family_t FAMILY = PATTN_CUDA_FAMILY_GENERAL;
    static constexpr int EXACT = 0, ROWS = SimtDq::ROWS;
};

#define PATTN_KERNEL(F, D)                                                                         \
    {#F "_d" #D, Traits_##F<D>::PASS,  Traits_##F<D>::FAMILY, D,                                   \
     Traits_##F<D>::EXACT, Traits_##F<D>::ROWS, Traits_##F<D>::NO_DROPOUT,                         \
     Traits_##F<D>::CAUSAL_MIN_LQ,                                                                 \
     Traits_##F<D>::FUSED_DQ,                                                                      \
     Traits_##F<D>::DQ_ROWS, pattn_cuda_##F##_d##D},
const pattn_cuda_kernel_t table[] = {
#include "kernels.def"
};
#undef PATTN_KERNEL

const char *const family_names[] = {"general", "mma", "wgmma", "tma"};
constexpr int NUM_FAMILIES = (int)(sizeof family_names / sizeof family_names[0]);

/* The highest family PATTN_CUDA_KERNEL allows. */
pattnResult_t family_cap(pattn_cuda_family_t *cap)
{
    const char *v = getenv("PATTN_CUDA_KERNEL");
    *cap = PATTN_CUDA_FAMILY_TMA;
    if (!v || !*v)
        return pattnSuccess;
    for (int f = 0; f < NUM_FAMILIES; ++f)
        if (!strcmp(v, family_names[f])) {
            *cap = (pattn_cuda_family_t)f;
            return pattnSuccess;
        }
    return pattn_error(pattnInvalidArgument,
                       "PATTN_CUDA_KERNEL = \"%s\": expected tma, wgmma, mma or general (or unset)", v);
}

/* Whether the Hopper kernels (wgmma, tma) may run: the build has sm_90a code (CMake defines
 * PATTN_CUDA_HAVE_SM90A) and the current device is sm_90 (asked once per device: 1 yes, 2 no). */
bool wgmma_device()
{
#ifdef PATTN_CUDA_HAVE_SM90A
    static int known[64];
    int device, major;
    if (cudaGetDevice(&device) != cudaSuccess) {
        cudaGetLastError(); /* no device: the caller's own calls will say so */
        return false;
    }
    if (device >= 0 && device < 64 && known[device])
        return known[device] == 1;
    if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess) {
        cudaGetLastError();
        return false;
    }
    if (device >= 0 && device < 64)
        known[device] = major == 9 ? 1 : 2; /* idempotent: racing threads write the same value */
    return major == 9;
#else
    return false;
#endif
}

} // namespace

extern "C" const pattn_cuda_kernel_t *pattn_cuda_kernels(int *count)
{
    *count = (int)(sizeof table / sizeof table[0]);
    return table;
}

/* The first entry of pass that fits p (its dtype, head dim, dropout, mask and query length). */
static pattnResult_t pick(pattn_cuda_pass_t pass, const pattn_problem_t *p, int aligned,
                          const pattn_cuda_kernel_t **kernel)
{
    pattn_cuda_family_t cap;
    pattnResult_t r = family_cap(&cap);
    if (r != pattnSuccess)
        return r;
    const pattnDtype_t dtype = p->dtype;
    const int head_dim = (int)p->D;
    const bool tensor_ok = dtype != PATTN_FP32 && aligned, hopper = wgmma_device();
    const int64_t causal_lq = p->is_causal ? pattn_member_lq(p, p->me) : INT64_MAX;
    for (const pattn_cuda_kernel_t &k : table) {
        if (k.pass != pass || k.family > cap)
            continue;
        if (k.family != PATTN_CUDA_FAMILY_GENERAL && !tensor_ok)
            continue;
        if (k.family >= PATTN_CUDA_FAMILY_WGMMA && !hopper)
            continue;
        if ((k.no_dropout && p->p_dropout != 0) || causal_lq < k.causal_min_lq)
            continue;
        if (k.head_dim != 0 && (k.exact ? head_dim != k.head_dim : head_dim > k.head_dim))
            continue;
        *kernel = &k;
        return pattnSuccess;
    }
    return pattn_error(pattnUnsupported,
                       "backend cuda: no kernel of pass %d for %s head_dim %d (PATTN_CUDA_KERNEL "
                       "allows up to %s)",
                       (int)pass, pattnDtypeName(dtype), head_dim, family_names[cap]);
}

extern "C" pattnResult_t pattn_cuda_pick_forward(const pattn_problem_t *p, int aligned,
                                                 const pattn_cuda_kernel_t **kernel)
{
    return pick(PATTN_CUDA_PASS_FWD, p, aligned, kernel);
}

extern "C" pattnResult_t pattn_cuda_pick_backward(const pattn_problem_t *p, int aligned,
                                                  const pattn_cuda_kernel_t **dkdv,
                                                  const pattn_cuda_kernel_t **dq)
{
    *dq = NULL;
    pattnResult_t r = pick(PATTN_CUDA_PASS_DKDV, p, aligned, dkdv);
    if (r == pattnSuccess && !(*dkdv)->fused_dq)
        r = pick(PATTN_CUDA_PASS_DQ, p, aligned, dq);
    return r;
}
