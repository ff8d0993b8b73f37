/* fwd_wgmma_d64.cu: the Hopper (wgmma) forward kernel for head dim 64 (fp16 and bf16), in a
 * file of its own so that the variants compile in parallel. */
#include "fwd_kernels.h"
#include "fwd_wgmma.cuh"

PATTN_DEFINE_WGMMA_LAUNCHER(64)
