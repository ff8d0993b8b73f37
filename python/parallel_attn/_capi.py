"""The C API of libparallel_attn through ctypes: the library, its structs and its prototypes.

The mirror of include/parallel_attn.h lives here and nowhere else (conformance's ctypes smoke
test loads this file too). It needs only the standard library. On load the mirror is checked
against the library: the version (pattnGetVersion), and a pattnQueryShapes call on a problem
whose answer is known, so a field out of place fails at import with a clear message instead of
as a wrong result later (the library itself rejects a struct whose size or version differs).

The library is the file inside the installed package, or the one $PATTN_LIBRARY names (a
build folder's libparallel_attn.so, for running from a source tree).
"""
import ctypes as C
import os

# The header this mirror was written from (PATTN_API_VERSION, PATTN_MAX_RING, the version code).
API_VERSION = 1
MAX_RING = 64
HEADER_VERSION = (0, 1)

SUCCESS, INVALID_ARGUMENT, UNSUPPORTED = 0, 1, 2
DTYPES = {"fp32": 0, "fp16": 1, "bf16": 2}
SPLITS = {"contiguous": 0, "sym": 1}
BACKEND_REFERENCE, BACKEND_CUDA = 1, 2

_i64p = C.POINTER(C.c_int64)
_i32p = C.POINTER(C.c_int32)


class Params(C.Structure):
    """pattnParams_t, field for field."""
    _fields_ = [
        ("size", C.c_size_t), ("version", C.c_uint32), ("dtype", C.c_int),
        ("rows", C.c_int64), ("cols", C.c_int64), ("head_dim", C.c_int64),
        ("group_query_ratio", C.c_int64), ("num_strategies", C.c_int), ("num_pipelines", C.c_int),
        ("seq_lens", _i64p), ("cp_groups", _i64p),
        ("strategy", C.c_int), ("pipeline", C.c_int), ("split", C.c_int),
        ("packing", C.c_int), ("num_seqs", C.c_int),
        ("cu_seqlens_q", _i32p), ("cu_seqlens_k", _i32p),
        ("max_seqlen_q", C.c_int64), ("max_seqlen_k", C.c_int64),
        ("p_dropout", C.c_double), ("softmax_scale", C.c_double), ("is_causal", C.c_int),
        ("return_softmax", C.c_int), ("deterministic", C.c_int), ("max_flops", C.c_double),
    ]

    def __init__(self, **fields):
        """PATTN_PARAMS_INIT, then the given fields."""
        defaults = dict(size=C.sizeof(Params), version=API_VERSION, group_query_ratio=1,
                        softmax_scale=-1.0, is_causal=1, deterministic=1)
        defaults.update(fields)
        super().__init__(**defaults)


class Generator(C.Structure):
    """pattnGenerator_t."""
    _fields_ = [("seed", C.c_uint64), ("offset", C.c_uint64)]


class Shapes(C.Structure):
    """pattnShapes_t."""
    _fields_ = [
        ("num_q_heads", C.c_int64), ("num_kv_heads", C.c_int64), ("batch", C.c_int64),
        ("local_len", C.c_int64), ("out_cols", C.c_int64), ("lse_dims", C.c_int64 * 3),
        ("softmax_dims", C.c_int64 * 4), ("ring_size", C.c_int), ("ring_index", C.c_int),
        ("ring_pipelines", C.c_int * MAX_RING), ("scale", C.c_float),
    ]


STEP_CALLBACK = C.CFUNCTYPE(None, C.c_void_p, C.c_int, C.c_int, C.c_int,
                            C.POINTER(C.c_float), C.POINTER(C.c_float))


class StepObserver(C.Structure):
    """pattnStepObserver_t."""
    _fields_ = [("on_step", STEP_CALLBACK), ("user", C.c_void_p)]


_vpp = C.POINTER(C.c_void_p)
_fpp = C.POINTER(C.POINTER(C.c_float))
_PROTOTYPES = {
    "pattnGetVersion": (C.c_int, [C.POINTER(C.c_int)]),
    "pattnGetErrorString": (C.c_char_p, [C.c_int]),
    "pattnGetLastError": (C.c_char_p, []),
    "pattnBackendAvailable": (C.c_int, [C.c_int]),
    "pattnQueryShapes": (C.c_int, [C.POINTER(Params), C.POINTER(Shapes)]),
    "pattnCreate": (C.c_int, [C.POINTER(C.c_void_p), C.c_int]),
    "pattnDestroy": (C.c_int, [C.c_void_p]),
    "pattnSetStream": (C.c_int, [C.c_void_p, C.c_void_p]),
    "pattnForward": (C.c_int, [C.c_void_p, C.POINTER(Params), C.POINTER(Generator), C.c_void_p,
                               C.c_void_p, C.c_void_p, C.c_void_p, C.c_void_p]),
    "pattnBackward": (C.c_int, [C.c_void_p, C.POINTER(Params), C.c_void_p, C.c_void_p,
                                C.c_void_p, C.c_void_p, C.c_void_p, C.c_void_p]),
    "pattnForwardEmulated": (C.c_int, [C.POINTER(Params), C.POINTER(Generator), _vpp, _vpp,
                                       _fpp, C.c_void_p, _fpp, C.POINTER(StepObserver)]),
    "pattnBackwardEmulated": (C.c_int, [C.POINTER(Params), _vpp, _vpp, _fpp, C.c_void_p,
                                        _vpp, _vpp]),
}


class UniqueId(C.Structure):
    """pattnUniqueId_t: an NCCL unique id."""
    _fields_ = [("internal", C.c_char * 128)]


# The communicator API (the GPU ring), declared when the library has it.
_RING_PROTOTYPES = {
    "pattnGetUniqueId": (C.c_int, [C.POINTER(UniqueId)]),
    "pattnCommInitRank": (C.c_int, [C.POINTER(C.c_void_p), C.c_int, C.POINTER(UniqueId), C.c_int]),
    "pattnCommDestroy": (C.c_int, [C.c_void_p]),
    "pattnCommTransport": (C.c_char_p, [C.c_void_p]),
    "pattnSetComm": (C.c_int, [C.c_void_p, C.c_void_p]),
}


def has_ring_api(lib):
    """Whether the library has the communicator functions (builds without CUDA answer
    pattnUnsupported from them)."""
    return all(hasattr(lib, name) for name in _RING_PROTOTYPES)


class ParallelAttnError(RuntimeError):
    """A call failed: .status is the pattnResult_t, the message is pattnGetLastError()'s."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def library_path():
    """The library this package loads: $PATTN_LIBRARY, else the file inside the package."""
    if os.environ.get("PATTN_LIBRARY"):
        return os.environ["PATTN_LIBRARY"]
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "libparallel_attn.so")


def load(path=None):
    """Loads the library, declares the prototypes, checks the mirror; returns the CDLL."""
    path = path or library_path()
    if not os.path.isfile(path):
        raise ImportError("parallel_attn: no library at %s: install the package with `pip install "
                          ".`, or set PATTN_LIBRARY to a built libparallel_attn.so" % path)
    lib = C.CDLL(path)
    prototypes = dict(_PROTOTYPES, **(_RING_PROTOTYPES if has_ring_api(lib) else {}))
    for name, (restype, argtypes) in prototypes.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes
    _check_mirror(lib, path)
    return lib


def check(lib, status):
    """Raises ParallelAttnError for a failed status, with the library's message."""
    if status != SUCCESS:
        raise ParallelAttnError(status, "%s: %s" % (lib.pattnGetErrorString(status).decode(),
                                                     lib.pattnGetLastError().decode()))


def version(lib):
    """(major, minor, patch) of the loaded library."""
    code = C.c_int()
    check(lib, lib.pattnGetVersion(C.byref(code)))
    return code.value // 10000, code.value // 100 % 100, code.value % 100


def _check_mirror(lib, path):
    got = version(lib)
    if got[:2] != HEADER_VERSION:
        raise ImportError("parallel_attn: %s is version %d.%d.%d; this package mirrors the API of "
                          "%d.%d" % ((path,) + got + HEADER_VERSION))
    # B = 2, L = 3 on pipeline 1 of strategy 1, in a ring with pipeline 0 (L = 5); r = 2, D = 8.
    lens = (C.c_int64 * 4)(7, 7, 5, 3)
    groups = (C.c_int64 * 4)(0, 1, 4, 4)
    params = Params(rows=6, cols=32, head_dim=8, group_query_ratio=2, num_strategies=2,
                    num_pipelines=2, seq_lens=lens, cp_groups=groups, strategy=1, pipeline=1,
                    split=SPLITS["sym"], return_softmax=1)
    shapes = Shapes()
    status = lib.pattnQueryShapes(C.byref(params), C.byref(shapes))
    want = (2, 1, 2, 3, 16, (2, 2, 3), (2, 2, 3, 8), 2, 1, (0, 1))
    seen = (shapes.num_q_heads, shapes.num_kv_heads, shapes.batch, shapes.local_len,
            shapes.out_cols, tuple(shapes.lse_dims), tuple(shapes.softmax_dims),
            shapes.ring_size, shapes.ring_index, tuple(shapes.ring_pipelines[:2]))
    if status != SUCCESS or seen != want:
        raise ImportError("parallel_attn: the ctypes mirror of pattnParams_t/pattnShapes_t does not "
                          "match %s (status %d: %s; shapes %s, expected %s)"
                          % (path, status, lib.pattnGetLastError().decode(), seen, want))
