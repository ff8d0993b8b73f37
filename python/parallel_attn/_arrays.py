"""numpy arrays and torch tensors as the C API sees them: dtype, device, pointer, new outputs.

numpy: float32, float16 and bfloat16 (ml_dtypes.bfloat16) arrays, on the host. torch: float32,
float16 and bfloat16 tensors, on the CPU or a CUDA device. The C API reads fp16/bf16 as their
bit patterns, which is how both store them, so no array is converted. cast_exact() turns a
float32 array that holds fp16 or bf16 values (the golden cases' convention) into one of that
dtype.
"""
import sys

import numpy as np

_NUMPY_DTYPES = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16"}


def torch_module():
    """torch if the process has imported it (this package never imports it for numpy users)."""
    return sys.modules.get("torch")


def is_torch(x):
    torch = torch_module()
    return torch is not None and isinstance(x, torch.Tensor)


def op_dtype(x, name):
    """The op dtype ("fp32", "fp16", "bf16") of array x, or TypeError naming the argument."""
    if is_torch(x):
        torch = torch_module()
        found = {torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16"}.get(x.dtype)
    else:
        found = _NUMPY_DTYPES.get(np.asarray(x).dtype.name)
    if found is None:
        raise TypeError("%s has dtype %s: expected float32, float16 or bfloat16 (numpy: "
                        "ml_dtypes.bfloat16; a float32 array holding bf16 values: "
                        "parallel_attn.cast_exact(x, 'bf16'))" % (name, x.dtype))
    return found


def is_cuda(x):
    return is_torch(x) and x.is_cuda


def contiguous(x, name, ndim):
    """x as a C-contiguous array of its own framework (a copy only when it is not one)."""
    if is_torch(x):
        x = x.contiguous()
    else:
        x = np.ascontiguousarray(x)
    if x.ndim != ndim:
        raise ValueError("%s has shape %s: expected %d dimensions" % (name, tuple(x.shape), ndim))
    return x


def pointer(x):
    return x.data_ptr() if is_torch(x) else x.ctypes.data


def empty(like, shape, kind):
    """A new array of like's framework and device: kind "same" (like's dtype), "f32" or "i64".
    rng_state ("i64") always lives on the host (SPEC section 1)."""
    if is_torch(like):
        torch = torch_module()
        dtype = {"same": like.dtype, "f32": torch.float32, "i64": torch.int64}[kind]
        device = "cpu" if kind == "i64" else like.device
        return torch.empty(tuple(shape), dtype=dtype, device=device)
    dtype = {"same": like.dtype, "f32": np.float32, "i64": np.int64}[kind]
    return np.empty(tuple(shape), dtype=dtype)


def check_array(x, name, shape, dtype, device_of=None):
    """x must be a C-contiguous array of this shape and op dtype (and device_of's device)."""
    x = contiguous(x, name, len(shape))
    if tuple(x.shape) != tuple(shape):
        raise ValueError("%s has shape %s: expected %s" % (name, tuple(x.shape), tuple(shape)))
    if dtype in ("fp32", "fp16", "bf16"):
        got = op_dtype(x, name)
    else:
        got = str(x.dtype).replace("torch.", "")
    if got != dtype:
        raise TypeError("%s has dtype %s: expected %s" % (name, got, dtype))
    if device_of is not None and is_cuda(x) != is_cuda(device_of):
        raise ValueError("%s is on %s: expected the device of qkv (%s)"
                         % (name, device_name(x), device_name(device_of)))
    return x


def device_name(x):
    return str(x.device) if is_torch(x) else "the host (numpy)"


def host_ints(x, name):
    """An integer array (numpy, torch on any device, or a list) as a host int64 numpy array."""
    if is_torch(x):
        x = x.detach().cpu().numpy()
    a = np.asarray(x)
    if a.dtype.kind not in "iu":
        raise TypeError("%s has dtype %s: expected integers" % (name, a.dtype))
    return a.astype(np.int64)


def host_int32(x, name):
    """host_ints(), checked to fit int32, as a C-contiguous int32 array."""
    a = host_ints(x, name)
    if a.size and (a.min() < 0 or a.max() > np.iinfo(np.int32).max):
        raise ValueError("%s holds %d..%d: expected values in [0, 2^31)" % (name, a.min(), a.max()))
    return np.ascontiguousarray(a, dtype=np.int32)


def cast_exact(x, dtype):
    """x (any float array) as a numpy array of dtype "fp32", "fp16" or "bf16", raising
    ValueError if a value is not exactly representable in it. For float32 arrays holding
    fp16/bf16 values, as the golden cases store them."""
    if dtype == "fp32":
        target = np.float32
    elif dtype == "fp16":
        target = np.float16
    elif dtype == "bf16":
        import ml_dtypes
        target = ml_dtypes.bfloat16
    else:
        raise ValueError("dtype = %r: expected 'fp32', 'fp16' or 'bf16'" % (dtype,))
    source = np.asarray(x)
    cast = source.astype(target)
    wide = source.astype(np.float64)
    differs = ~((cast.astype(np.float64) == wide) | (np.isnan(wide) & np.isnan(cast.astype(np.float64))))
    if differs.any():
        at = tuple(int(i) for i in np.unravel_index(int(np.argmax(differs)), source.shape))
        raise ValueError("item %s = %r is not exactly representable in %s (nearest: %r)"
                         % (list(at), float(wide[at]), dtype, float(cast[at])))
    return cast
