"""The GPU ring from torch.distributed: the library's NCCL communicator for a process group.

    import torch, torch.distributed as dist, parallel_attn
    from parallel_attn.distributed import Communicator
    dist.init_process_group("nccl"); torch.cuda.set_device(local_rank)
    comm = Communicator.from_process_group()          # group rank r is pipeline r
    with comm:                                        # this process's CUDA calls ring over comm
        out, lse, rng_state = parallel_attn.parallel_attn(qkv_shard, ..., pipeline=dist.get_rank())
    comm.close()

The library's communicator is a world whose ranks are the pipelines (include/parallel_attn.h,
"communicators"): the group's rank r is pipeline r, and its size the number of pipelines. Group
rank 0 makes the NCCL unique id (pattnGetUniqueId), broadcast_object_list hands it to the other
ranks (or rank 0's error, so that no rank waits for an id that never comes), and every rank calls
pattnCommInitRank on its current CUDA device, collectively. Entering the Communicator makes it
the one this process's calls on CUDA tensors use for their ring (their backward through autograd
too; single-rank calls ignore it); leaving restores the previous one. close() destroys it.
"""
import ctypes as C

from . import _call, _capi


class Communicator:
    """A pattnComm_t: from_process_group() builds one; `with` activates it; close() ends it."""

    def __init__(self, comm):
        self._comm = comm
        self._outer = []

    @classmethod
    def from_process_group(cls, group=None):
        import torch.distributed as dist
        lib = _call.LIB
        if not _capi.has_ring_api(lib):
            raise _capi.ParallelAttnError(_capi.UNSUPPORTED, "%s has no communicator API "
                                          "(pattnGetUniqueId, pattnCommInitRank)"
                                          % _capi.library_path())
        rank, size = dist.get_rank(group), dist.get_world_size(group)
        message = [None]
        if rank == 0:
            unique_id = _capi.UniqueId()
            status = lib.pattnGetUniqueId(C.byref(unique_id))
            message = [("id", unique_id.internal.raw) if status == _capi.SUCCESS else
                       ("error", status, lib.pattnGetLastError().decode())]
        root = dist.get_global_rank(group, 0) if group is not None else 0
        dist.broadcast_object_list(message, src=root, group=group)
        if message[0][0] == "error":
            raise _capi.ParallelAttnError(message[0][1], "group rank 0: %s" % message[0][2])
        unique_id = _capi.UniqueId.from_buffer_copy(message[0][1])
        comm = C.c_void_p()
        _capi.check(lib, lib.pattnCommInitRank(C.byref(comm), size, C.byref(unique_id), rank))
        return cls(comm)

    @property
    def transport(self):
        """"nccl" or "local"."""
        return _call.LIB.pattnCommTransport(self._comm).decode()

    def __enter__(self):
        self._outer.append(_call.ring_comm.comm)
        _call.ring_comm.comm = self._comm
        return self

    def __exit__(self, *exc):
        _call.ring_comm.comm = self._outer.pop()

    def close(self):
        """Destroys the communicator (collective for NCCL: every rank closes its own)."""
        if self._comm is not None:
            _capi.check(_call.LIB, _call.LIB.pattnCommDestroy(self._comm))
            self._comm = None
