"""Calls of the C library on arrays: one rank's forward and backward, and the emulated ring.

Arrays are numpy arrays or torch tensors (_arrays.py); outputs are new arrays of qkv's kind and
device, and rng_state is always host memory. Host arrays run the reference; CUDA tensors run
the CUDA backend on the current stream of their device. Every array handed to C is checked
here against the shape the library reports (pattnQueryShapes), since C trusts its pointers.
"""
import contextlib
import ctypes as C
import threading

import numpy as np

from . import _capi
from ._arrays import (check_array, contiguous, empty, host_int32, host_ints, is_cuda, is_torch,
                      op_dtype, pointer, torch_module)

LIB = _capi.load()


def version_of_library():
    """(major, minor, patch) of the loaded library (pattnGetVersion)."""
    return _capi.version(LIB)


def has_cuda_backend():
    """Whether the loaded library was built with the CUDA backend (CUDA tensors need it)."""
    return bool(LIB.pattnBackendAvailable(_capi.BACKEND_CUDA))


class CParams:
    """The pattnParams_t of args for qkv of this dtype and (rows, cols), as pipeline `pipeline`
    (default: the caller's), with the host arrays it points at kept alive."""

    def __init__(self, args, dtype, rows, cols, pipeline=None):
        pipeline = args.pipeline if pipeline is None else pipeline
        flat_lens = [v for row in args.lens for v in row]
        flat_groups = [g for row in args.groups for g in row]
        self._lens = (C.c_int64 * len(flat_lens))(*flat_lens)
        self._groups = (C.c_int64 * len(flat_groups))(*flat_groups)
        self.params = _capi.Params(
            dtype=_capi.DTYPES[dtype], rows=rows, cols=cols, head_dim=args.head_dim,
            group_query_ratio=args.group_query_ratio, num_strategies=len(args.lens),
            num_pipelines=len(args.lens[0]), seq_lens=self._lens, cp_groups=self._groups,
            strategy=args.strategy, pipeline=pipeline, split=_capi.SPLITS[args.split],
            p_dropout=args.p_dropout, softmax_scale=args.softmax_scale,
            is_causal=int(args.is_causal), return_softmax=int(args.return_softmax))
        if args.packing:
            self._set_packing(args, pipeline)

    def _set_packing(self, args, pipeline):
        ring = args.ring(pipeline)
        cu_q = host_int32(args.cu_seqlens_q, "cu_seqlens_q")
        cu_k = host_int32(args.cu_seqlens_k, "cu_seqlens_k")
        for name, cu in (("cu_seqlens_q", cu_q), ("cu_seqlens_k", cu_k)):
            want_rows = "(%d, P + 1)" % len(ring) if len(ring) > 1 else "(P + 1,)"
            rows = cu.shape[0] if cu.ndim == 2 else 1
            if cu.ndim not in (1, 2) or cu.shape[-1] < 2 or rows != len(ring):
                raise ValueError("%s has shape %s: expected %s for a ring of %d (pipelines %s)"
                                 % (name, cu.shape, want_rows, len(ring), ring))
        if cu_q.shape != cu_k.shape:
            raise ValueError("cu_seqlens_q has shape %s, cu_seqlens_k %s: expected the same"
                             % (cu_q.shape, cu_k.shape))
        self._cu_q, self._cu_k = cu_q.reshape(len(ring), -1), cu_k.reshape(len(ring), -1)
        me = ring.index(pipeline)
        pieces_q, pieces_k = np.diff(self._cu_q, axis=1), np.diff(self._cu_k, axis=1)
        p = self.params
        p.packing, p.num_seqs = 1, self._cu_q.shape[1] - 1
        p.cu_seqlens_q = self._cu_q.ctypes.data_as(C.POINTER(C.c_int32))
        p.cu_seqlens_k = self._cu_k.ctypes.data_as(C.POINTER(C.c_int32))
        # The longest query piece on this rank, the longest (global) key sequence.
        default_q = int(pieces_q[me].max(initial=0))
        default_k = int(pieces_k.sum(axis=0).max(initial=0))
        p.max_seqlen_q = default_q if args.max_seqlen_q < 0 else args.max_seqlen_q
        p.max_seqlen_k = default_k if args.max_seqlen_k < 0 else args.max_seqlen_k

    def shapes(self):
        shapes = _capi.Shapes()
        _capi.check(LIB, LIB.pattnQueryShapes(C.byref(self.params), C.byref(shapes)))
        return shapes


def lse_shape(shapes, packing):
    """(B, Hq, L), or (Hq, T) when packing (SPEC section 1)."""
    dims = tuple(shapes.lse_dims)
    return dims[1:] if packing else dims


class _Handles(threading.local):
    """This thread's library handles, one for the reference and one per (CUDA device, stream),
    kept for the life of the process: the CUDA backend caches work-item plans and a device
    workspace in its handle, so repeated calls of the same shapes rebuild nothing, and a handle
    keeps one stream (the library asks for a synchronisation before a handle changes streams)."""

    def __init__(self):
        self.by_key = {}

    def get(self, backend, device=None, stream=None):
        key = (backend, device, stream)
        if key not in self.by_key:
            handle = C.c_void_p()
            _capi.check(LIB, LIB.pattnCreate(C.byref(handle), backend))
            if stream is not None:
                _capi.check(LIB, LIB.pattnSetStream(handle, C.c_void_p(stream)))
            self.by_key[key] = handle
        return self.by_key[key]


_handles = _Handles()


class _RingComm:
    """The communicator (a pattnComm_t) this process's CUDA calls use for their ring, or None:
    set while a parallel_attn.distributed.Communicator is entered. One per process, not per
    thread: autograd runs a CUDA backward on a thread of its own."""
    comm = None


ring_comm = _RingComm()


@contextlib.contextmanager
def handle_for(x):
    """The library handle for arrays like x: the reference for host memory, else the CUDA
    backend on the current stream of x's device (made current for the call)."""
    if not is_cuda(x):
        yield _handles.get(_capi.BACKEND_REFERENCE)
        return
    torch = torch_module()
    with torch.cuda.device(x.device):
        stream = torch.cuda.current_stream(x.device).cuda_stream
        handle = _handles.get(_capi.BACKEND_CUDA, x.device.index, stream)
        if _capi.has_ring_api(LIB):
            _capi.check(LIB, LIB.pattnSetComm(handle, ring_comm.comm))
        yield handle


def _prepare(args, qkv, pipeline=None):
    """qkv made contiguous, its dtype, its CParams and the library's shapes for it."""
    qkv = contiguous(qkv, "qkv", 2)
    dtype = op_dtype(qkv, "qkv")
    cparams = CParams(args, dtype, qkv.shape[0], qkv.shape[1], pipeline)
    return qkv, dtype, cparams, cparams.shapes()


def forward(args, qkv, seed, offset):
    """One rank's forward: (out, lse, rng_state, softmax or None, the generator's new offset)."""
    qkv, _, cparams, shapes = _prepare(args, qkv)
    out = empty(qkv, (qkv.shape[0], shapes.out_cols), "same")
    lse = empty(qkv, lse_shape(shapes, args.packing), "f32")
    rng_state = empty(qkv, (2,), "i64")
    softmax = empty(qkv, tuple(shapes.softmax_dims), "f32") if args.return_softmax else None
    gen = _capi.Generator(seed, offset)
    with handle_for(qkv) as handle:
        _capi.check(LIB, LIB.pattnForward(handle, C.byref(cparams.params), C.byref(gen),
                                          pointer(qkv), pointer(out), pointer(lse),
                                          pointer(rng_state),
                                          pointer(softmax) if softmax is not None else None))
    return out, lse, rng_state, softmax, gen.offset


def backward(args, dout, qkv, out, softmax_lse, rng_state):
    """One rank's backward: dqkv, in qkv's layout, dtype and device."""
    qkv, dtype, cparams, shapes = _prepare(args, qkv)
    rows = qkv.shape[0]
    dout = check_array(dout, "dout", (rows, shapes.out_cols), dtype, qkv)
    out = check_array(out, "out", (rows, shapes.out_cols), dtype, qkv)
    lse = check_array(softmax_lse, "softmax_lse", lse_shape(shapes, args.packing), "float32", qkv)
    state = _host_rng_state(rng_state, "rng_state")
    dqkv = empty(qkv, qkv.shape, "same")
    with handle_for(qkv) as handle:
        _capi.check(LIB, LIB.pattnBackward(handle, C.byref(cparams.params), pointer(qkv),
                                           pointer(out), pointer(lse), pointer(state),
                                           pointer(dout), pointer(dqkv)))
    return dqkv


def _host_rng_state(x, name):
    state = np.ascontiguousarray(host_ints(x, name).reshape(-1))
    if state.shape != (2,):
        raise ValueError("%s has %d values: expected [seed, offset]" % (name, state.size))
    return state


# ---------------------------------------------------------------- the emulated ring

def _ring_members(args, arrays, name):
    """The ring of the caller's pipeline, checking `arrays` has one host array per member."""
    ring = args.ring()
    if not isinstance(arrays, (list, tuple)) or len(arrays) != len(ring):
        raise ValueError("%s: expected a list of %d arrays, one per ring member in ring order "
                         "(pipelines %s)" % (name, len(ring), ring))
    for k, x in enumerate(arrays):
        if is_cuda(x):
            raise ValueError("%s[%d] is on %s: the emulated ring runs on the reference, pass host "
                             "arrays" % (name, k, x.device))
    return ring


def _pointers(arrays, ctype=C.c_void_p):
    if ctype is C.c_void_p:
        return (C.c_void_p * len(arrays))(*[pointer(x) for x in arrays])
    fp = C.POINTER(C.c_float)
    return (fp * len(arrays))(*[C.cast(pointer(x), fp) for x in arrays])


def _member_setup(args, qkvs):
    """Per member: contiguous qkv, CParams as that member, shapes; plus the common dtype."""
    members = []
    for k, pipeline in enumerate(args.ring()):
        qkv = contiguous(qkvs[k], "qkv[%d]" % k, 2)
        members.append((qkv,) + _prepare(args, qkv, pipeline)[1:])
    dtypes = {m[1] for m in members}
    if len(dtypes) != 1:
        raise TypeError("qkv: the ring members have dtypes %s: expected one" % sorted(dtypes))
    return members


def _as_kind(like, array):
    """A numpy array as the kind of `like` (a CPU torch tensor when like is a tensor)."""
    return torch_module().from_numpy(array) if is_torch(like) else array


class _StepCallback:
    """The step observer: calls on_step with copies of each partial, keeps its first error."""

    def __init__(self, on_step, members, args):
        self.error = None

        def call(_user, member, step, kv_member, out_partial, lse_partial):
            if self.error is not None:
                return
            try:
                qkv, _, _, shapes = members[member]
                out = np.ctypeslib.as_array(out_partial, (qkv.shape[0], shapes.out_cols)).copy()
                lse = np.ctypeslib.as_array(lse_partial, lse_shape(shapes, args.packing)).copy()
                on_step(member, step, kv_member, _as_kind(qkv, out), _as_kind(qkv, lse))
            except BaseException as e:  # ctypes would print and drop it
                self.error = e
        self.c_function = _capi.STEP_CALLBACK(call)
        self.observer = _capi.StepObserver(self.c_function, None)


def emulated_forward(args, qkvs, seed, offset, on_step):
    """Every member of the caller's ring on the reference: a list of (out, lse, rng_state,
    softmax or None) in ring order, and the generator's new offset."""
    _ring_members(args, qkvs, "qkv")
    members = _member_setup(args, qkvs)
    outs = [empty(q, (q.shape[0], s.out_cols), "same") for q, _, _, s in members]
    lses = [empty(q, lse_shape(s, args.packing), "f32") for q, _, _, s in members]
    sms = [empty(q, tuple(s.softmax_dims), "f32") for q, _, _, s in members] \
        if args.return_softmax else None
    n = len(members)
    gens = (_capi.Generator * n)(*[_capi.Generator(seed, offset) for _ in range(n)])
    states = np.zeros((n, 2), np.int64)
    callback = _StepCallback(on_step, members, args) if on_step is not None else None
    me = args.ring().index(args.pipeline)
    status = LIB.pattnForwardEmulated(
        C.byref(members[me][2].params), gens, _pointers([m[0] for m in members]),
        _pointers(outs), _pointers(lses, C.c_float), states.ctypes.data,
        _pointers(sms, C.c_float) if sms else None,
        C.byref(callback.observer) if callback else None)
    if callback and callback.error is not None:
        raise callback.error
    _capi.check(LIB, status)
    results = [(outs[k], lses[k], _as_kind(members[k][0], states[k].copy()),
                sms[k] if sms else None) for k in range(n)]
    return results, gens[0].offset


def emulated_backward(args, douts, qkvs, outs, lses, rng_states):
    """The backward of every member of the caller's ring: a list of dqkv in ring order."""
    _ring_members(args, qkvs, "qkv")
    for name, arrays in (("dout", douts), ("out", outs), ("softmax_lse", lses)):
        _ring_members(args, arrays, name)
    members = _member_setup(args, qkvs)
    n = len(members)
    checked = {"dout": [], "out": [], "softmax_lse": []}
    for k, (qkv, dtype, _, shapes) in enumerate(members):
        rows = qkv.shape[0]
        for name, arrays, shape, kind in (
                ("dout", douts, (rows, shapes.out_cols), dtype),
                ("out", outs, (rows, shapes.out_cols), dtype),
                ("softmax_lse", lses, lse_shape(shapes, args.packing), "float32")):
            checked[name].append(check_array(arrays[k], "%s[%d]" % (name, k), shape, kind))
    if len(rng_states) == 2 and not hasattr(rng_states[0], "__len__"):
        rng_states = [rng_states] * n
    states = np.stack([_host_rng_state(s, "rng_state[%d]" % k) for k, s in enumerate(rng_states)])
    if states.shape != (n, 2):
        raise ValueError("rng_state: expected %d [seed, offset] pairs, got %d" % (n, len(states)))
    dqkvs = [empty(m[0], m[0].shape, "same") for m in members]
    me = args.ring().index(args.pipeline)
    _capi.check(LIB, LIB.pattnBackwardEmulated(
        C.byref(members[me][2].params), _pointers([m[0] for m in members]),
        _pointers(checked["out"]), _pointers(checked["softmax_lse"], C.c_float),
        states.ctypes.data, _pointers(checked["dout"]), _pointers(dqkvs)))
    return dqkvs
