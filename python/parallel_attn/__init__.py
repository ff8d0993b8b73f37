"""parallel_attn: context-parallel multi-head attention (Hetu's parallel_attn) from Python.

    import parallel_attn
    out, lse, rng_state = parallel_attn.parallel_attn(qkv, head_dim, group_query_ratio,
                                                      [[seq_len]], [[0]])

numpy arrays and CPU tensors run the C reference, CUDA tensors the CUDA backend on the current
stream (no copies). torch tensors go through the torch.library op parallel_attn::forward, so
autograd (loss.backward()) and torch.compile work. parallel_attn.testing holds assert_close for
validating a kernel against the float64 oracle with this project's tolerances;
parallel_attn.distributed builds the GPU ring's NCCL communicator from a torch.distributed group.
"""
import importlib.util

from . import _call
from ._call import has_cuda_backend
from ._arrays import cast_exact
from ._capi import ParallelAttnError, library_path
from ._functional import (emulate_ring, emulate_ring_backward, parallel_attn,
                          parallel_attn_backward)
from ._generator import Generator, default_generator

__version__ = "%d.%d.%d" % _call.version_of_library()

# With torch installed its ops are registered now, so that torch.compile never traces the
# registration; a torch too old for them fails when a tensor is first passed.
if importlib.util.find_spec("torch") is not None:
    try:
        from . import _torch_ops  # noqa: F401
    except ImportError:
        pass

__all__ = ["parallel_attn", "parallel_attn_backward", "emulate_ring", "emulate_ring_backward",
           "Generator", "default_generator", "ParallelAttnError", "cast_exact", "has_cuda_backend",
           "library_path", "__version__"]
