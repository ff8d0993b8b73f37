/* fwd_mma_d256.cu: the tensor-core forward kernel for head dims up to 256 (fp16 and bf16), in a
 * file of its own so that the variants compile in parallel. */
#include "fwd_kernels.h"
#include "fwd_mma.cuh"

PATTN_DEFINE_MMA_LAUNCHER(256)
