"""The torch ops: torch.library's opcheck (schema, fake tensors, autograd registration), and
torch.compile with fullgraph=True, forward and backward, checked against golden cases.
Skipped without torch >= 2.4."""
import os

import pytest

import case_io
import parallel_attn
from parallel_attn.testing import assert_close

from conftest import DATA, torch_or_skip


@pytest.fixture
def torch():
    return torch_or_skip()


def golden_tensors(torch, name, device="cpu"):
    case, expected = case_io.read_case(os.path.join(DATA, name))
    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[case["dtype"]]

    def tensor(x):
        return torch.from_numpy(x).to(device=device, dtype=dtype)
    return case, expected, tensor


def op_arguments(torch, packing):
    qkv = torch.randn(20, 4 * 16, dtype=torch.float32)
    cu = torch.tensor([0, 7, 20], dtype=torch.int32) if packing else None
    return (qkv, cu, cu, 16, 2, [20], [0], 1, packing, 13 if packing else -1,
            13 if packing else -1, 0.0, -1.0, True, True, 0, 0, 0, 11, 32)


@pytest.mark.parametrize("packing", [False, True])
def test_opcheck_forward(torch, packing):
    args = op_arguments(torch, packing)
    args[0].requires_grad_()
    torch.library.opcheck(torch.ops.parallel_attn.forward.default, args)


def test_compiled_forward_and_backward_match_golden(torch):
    case, expected, tensor = golden_tensors(torch, "bwd_gqa_causal_bf16")
    qkv = tensor(case["qkv"][0]).requires_grad_()
    dout = tensor(case["dout"][0])

    def step(qkv):
        out, lse, rng_state = parallel_attn.parallel_attn(
            qkv, case["head_dim"], case["group_query_ratio"], case["seq_lens"], case["cp_groups"])
        return out, lse

    compiled = torch.compile(step, fullgraph=True, backend="aot_eager")
    out, lse = compiled(qkv)
    out.backward(dout)
    assert_close(out, expected[0]["out"], dtype="bf16", kind="out")
    assert_close(lse, expected[0]["lse"], dtype="bf16", kind="lse")
    assert_close(qkv.grad, expected[0]["dqkv"], dtype="bf16", kind="dqkv")


def test_compiled_packed_forward_matches_golden(torch):
    case, expected, tensor = golden_tensors(torch, "packed_same_causal_fp16")
    cu_q = torch.from_numpy(case["cu_seqlens_q"][0])
    cu_k = torch.from_numpy(case["cu_seqlens_k"][0])

    def step(qkv):
        return parallel_attn.parallel_attn(
            qkv, case["head_dim"], case["group_query_ratio"], case["seq_lens"], case["cp_groups"],
            True, cu_q, cu_k, case["max_seqlen_q"], case["max_seqlen_k"])[0]

    out = torch.compile(step, fullgraph=True, backend="aot_eager")(tensor(case["qkv"][0]))
    assert_close(out, expected[0]["out"], dtype="fp16", kind="out")


def test_packed_dropout_with_list_cu_seqlens(torch):
    """cu_seqlens as Python lists, dropout on: the golden output, and the generator advanced by
    P * Hq * 32 (P packed sequences)."""
    case, expected, tensor = golden_tensors(torch, "dropout05_packed_fp16")
    cu_q, cu_k = (case[k][0].tolist() for k in ("cu_seqlens_q", "cu_seqlens_k"))
    generator = parallel_attn.Generator(case["rng_seed"], case["rng_offset"])
    out, lse, rng_state = parallel_attn.parallel_attn(
        tensor(case["qkv"][0]), case["head_dim"], case["group_query_ratio"], case["seq_lens"],
        case["cp_groups"], True, cu_q, cu_k, p_dropout=case["p_dropout"], generator=generator)
    assert_close(out, expected[0]["out"], dtype="fp16", kind="out", p_dropout=case["p_dropout"])
    hq = case["qkv"][0].shape[1] // case["head_dim"] // (case["group_query_ratio"] + 2) * \
        case["group_query_ratio"]
    assert generator.offset == case["rng_offset"] + (len(cu_q) - 1) * hq * 32


def test_cuda_current_stream(torch):
    """CUDA tensors run on the current stream: a call on a side stream, then a sync of that
    stream only, gives the golden output."""
    if not torch.cuda.is_available() or not parallel_attn.has_cuda_backend():
        pytest.skip("needs a CUDA device and a library with the CUDA backend")
    case, expected, tensor = golden_tensors(torch, "mha_causal_fp16", "cuda")
    qkv = tensor(case["qkv"][0])
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        out, lse, _ = parallel_attn.parallel_attn(qkv, case["head_dim"], 1, case["seq_lens"],
                                                  case["cp_groups"])
    side.synchronize()
    assert out.device == qkv.device
    assert_close(out, expected[0]["out"], dtype="fp16", kind="out")
    assert_close(lse, expected[0]["lse"], dtype="fp16", kind="lse")
