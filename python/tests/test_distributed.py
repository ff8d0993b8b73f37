"""parallel_attn.distributed.Communicator over torch.distributed.

Without a GPU ring (a build without CUDA, or a library older than the communicator API) making
one fails on every rank with the library's reason, and no rank waits for an id. With at least
as many GPUs as a golden ring case has pipelines, one process per pipeline runs the case's ring
over NCCL, forward and (for backward cases) autograd, against the case's expected arrays.
"""
import os

import pytest

import case_io
import oracle
import parallel_attn
from parallel_attn import _capi
from parallel_attn.distributed import Communicator

from conftest import DATA, golden_cases, torch_or_skip
from golden_runner import call_arguments, check, ints_kind, to_kind


def ring_cases(world):
    """Golden cases whose active strategy is one ring of exactly `world` pipelines."""
    found = []
    for name in golden_cases():
        case, _ = case_io.read_case(os.path.join(DATA, name))
        groups = case["cp_groups"][case["strategy"]]
        widths = {len(row) for row in case["cp_groups"]}
        if len(groups) == world and widths == {world} and len(set(groups)) == 1 and \
                sorted(case["qkv"]) == list(range(world)):
            found.append(name)
    return found


def _no_ring_worker(rank, world, init_file):
    import torch.distributed as dist
    dist.init_process_group("gloo", init_method="file://" + init_file, rank=rank,
                            world_size=world)
    try:
        with pytest.raises(parallel_attn.ParallelAttnError, match="pattnGetUniqueId") as e:
            Communicator.from_process_group()
        assert e.value.status == _capi.UNSUPPORTED
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("world", [1, 2])
def test_without_a_gpu_ring_every_rank_fails(world, tmp_path):
    torch = torch_or_skip()
    if parallel_attn.has_cuda_backend() and torch.cuda.is_available():
        pytest.skip("this library and machine have a GPU ring")
    torch.multiprocessing.spawn(_no_ring_worker, args=(world, str(tmp_path / "init")),
                                nprocs=world, join=True)


def _check_member(name, rank):
    case, expected = case_io.read_case(os.path.join(DATA, name))
    members = oracle.rings_of(case)[0]
    positional, keywords = call_arguments(case, members)
    keywords["pipeline"] = rank
    if case["packing"]:
        positional[5], positional[6] = (ints_kind(c, "torch-cuda") for c in positional[5:7])
    qkv = to_kind(case["qkv"][rank], case["dtype"], "torch-cuda")
    if case["backward"]:
        qkv.requires_grad_()
    generator = parallel_attn.Generator(case["rng_seed"], case["rng_offset"])
    results = parallel_attn.parallel_attn(qkv, *positional, bool(case["return_softmax"]),
                                          generator=generator, **keywords)
    for output, got in zip(("out", "lse", "rng_state", "softmax"), results):
        if output in expected[rank]:
            check(case, output, got, expected[rank][output])
    if case["backward"]:
        results[0].backward(to_kind(case["dout"][rank], case["dtype"], "torch-cuda"))
        check(case, "dqkv", qkv.grad, expected[rank]["dqkv"])


def _ring_worker(rank, world, init_file, names):
    import torch
    import torch.distributed as dist
    torch.cuda.set_device(rank)
    dist.init_process_group("nccl", init_method="file://" + init_file, rank=rank,
                            world_size=world)
    try:
        comm = Communicator.from_process_group()
        assert comm.transport == "nccl", comm.transport
        with comm:
            for name in names:
                _check_member(name, rank)
        torch.cuda.synchronize()
        comm.close()
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("world", [2, 3, 4])
def test_nccl_ring_matches_golden(world, tmp_path):
    torch = torch_or_skip()
    import torch.distributed as dist
    if not (parallel_attn.has_cuda_backend() and _capi.has_ring_api(parallel_attn._call.LIB)):
        pytest.skip("%s has no GPU ring" % parallel_attn.library_path())
    if not dist.is_nccl_available() or torch.cuda.device_count() < world:
        pytest.skip("needs NCCL and %d GPUs" % world)
    names = ring_cases(world)
    assert names, "no golden ring case of %d pipelines" % world
    torch.multiprocessing.spawn(_ring_worker, args=(world, str(tmp_path / "init"), names),
                                nprocs=world, join=True)
