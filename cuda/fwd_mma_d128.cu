/* fwd_mma_d128.cu: the tensor-core forward kernel for head dims up to 128 (fp16 and bf16), in a
 * file of its own so that the variants compile in parallel. */
#include "fwd_kernels.h"
#include "fwd_mma.cuh"

PATTN_DEFINE_MMA_LAUNCHER(128)
