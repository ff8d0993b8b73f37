"""Runs a golden case through the package, as a user would, and checks it with assert_close.

The case is read by tools/golden/case_io.py, its rings found by the oracle's rings_of, and
every expected array the case holds is compared with what the package returned (never with
another output of the package). One-member rings call parallel_attn (and, for backward cases,
autograd on torch tensors or parallel_attn_backward on numpy); longer rings call emulate_ring
and emulate_ring_backward.
"""
import os

import numpy as np
import pytest

import case_io
import oracle
import parallel_attn
from parallel_attn.testing import assert_close

from conftest import DATA

TORCH_DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


def to_kind(x, dtype, kind):
    """A float32 golden input (exact in dtype) as an array of the kind, in the op dtype."""
    if kind == "numpy":
        if dtype == "bf16":
            pytest.importorskip("ml_dtypes", reason="numpy has bf16 only through ml_dtypes")
        return parallel_attn.cast_exact(x, dtype)
    import torch
    t = torch.from_numpy(np.ascontiguousarray(x, np.float32)).to(getattr(torch, TORCH_DTYPES[dtype]))
    return t.cuda() if kind == "torch-cuda" else t


def ints_kind(x, kind):
    """cu_seqlens as the kind holds them: device tensors on CUDA, as a user's would be."""
    if kind == "numpy":
        return x
    import torch
    t = torch.from_numpy(np.asarray(x))
    return t.cuda() if kind == "torch-cuda" else t


def tolerance_overrides(case, kind):
    """The case's atol/rtol keys that apply to an output kind."""
    keys = {"out": ("atol_out", "rtol_out"), "lse": ("atol_lse", None),
            "softmax": (None, "rtol_out"), "dqkv": ("atol_dqkv", "rtol_dqkv")}.get(kind, (None, None))
    atol, rtol = (float(case[k]) if k in case else None for k in keys)
    return {"atol": atol, "rtol": rtol}


def check(case, name, actual, expected):
    assert_close(actual, expected, dtype=case["dtype"], kind=name, p_dropout=case["p_dropout"],
                 **tolerance_overrides(case, name))


def call_arguments(case, members):
    """The positional and keyword arguments of parallel_attn / emulate_ring for one ring."""
    cu_q = cu_k = None
    if case["packing"]:
        cu_q, cu_k = case["cu_seqlens_q"][members[0]], case["cu_seqlens_k"][members[0]]
    positional = [case["head_dim"], case["group_query_ratio"], case["seq_lens"],
                  case["cp_groups"], bool(case["packing"]), cu_q, cu_k, case.get("max_seqlen_q"),
                  case.get("max_seqlen_k"), case["p_dropout"], case["softmax_scale"],
                  bool(case["is_causal"])]
    keywords = dict(strategy=case["strategy"], pipeline=members[0], split=case["split"])
    return positional, keywords


def generator_advance(case, qkv32):
    """SPEC section 4: B * Hq * 32 (B = samples or packed sequences) when p_dropout > 0."""
    if case["p_dropout"] <= 0:
        return 0
    d, r = case["head_dim"], case["group_query_ratio"]
    hq = qkv32.shape[1] // d // (r + 2) * r
    # packed: P sequences, the last axis of cu_seqlens ((P + 1), or (n, P + 1) in a ring)
    units = np.asarray(case["cu_seqlens_q"][0]).shape[-1] - 1 if case["packing"] else \
        qkv32.shape[0] // case["seq_lens"][case["strategy"]][0]
    return units * hq * 32


def run_case(name, kind):
    """Checks every expected array of case `name` against the package on arrays of `kind`."""
    case, expected = case_io.read_case(os.path.join(DATA, name))
    dtype = case["dtype"]
    checked = 0
    for members in oracle.rings_of(case):
        if kind == "torch-cuda" and len(members) > 1:
            pytest.skip("rings run on CUDA only over NCCL; emulate_ring is the reference's")
        positional, keywords = call_arguments(case, members)
        if kind != "numpy" and case["packing"]:
            positional[5], positional[6] = (ints_kind(c, kind) for c in positional[5:7])
        qkvs = [to_kind(case["qkv"][p], dtype, kind) for p in members]
        generator = parallel_attn.Generator(case["rng_seed"], case["rng_offset"])
        autograd = kind != "numpy" and case["backward"] and len(members) == 1
        if autograd:
            qkvs[0].requires_grad_()
        call = dict(keywords, generator=generator)
        try:
            if len(members) == 1:
                results = [parallel_attn.parallel_attn(qkvs[0], *positional,
                                                       bool(case["return_softmax"]), **call)]
            else:
                results = parallel_attn.emulate_ring(qkvs, *positional,
                                                     bool(case["return_softmax"]), **call)
        except parallel_attn.ParallelAttnError as e:
            if kind == "torch-cuda" and e.status == 2:  # pattnUnsupported
                pytest.skip(str(e))
            raise
        assert generator.offset == case["rng_offset"] + generator_advance(case, case["qkv"][members[0]])
        names = ("out", "lse", "rng_state", "softmax")
        for k, p in enumerate(members):
            for i, got in enumerate(results[k]):
                if names[i] in expected[p]:
                    check(case, names[i], got, expected[p][names[i]])
                    checked += 1
        if case["backward"]:
            checked += check_backward(case, members, kind, qkvs, results, positional, keywords,
                                      expected, autograd)
    assert checked > 0, "case %s: nothing was compared" % name


def check_backward(case, members, kind, qkvs, results, positional, keywords, expected, autograd):
    """dqkv of every member against the case's expected dqkv; returns how many were checked."""
    douts = [to_kind(case["dout"][p], case["dtype"], kind) for p in members]
    if autograd:
        results[0][0].backward(douts[0])
        dqkvs = [qkvs[0].grad]
    else:
        outs, lses, states = ([r[i] for r in results] for i in range(3))
        try:
            if len(members) == 1:
                dqkvs = [parallel_attn.parallel_attn_backward(douts[0], qkvs[0], outs[0], lses[0],
                                                              states[0], *positional, **keywords)]
            else:
                dqkvs = parallel_attn.emulate_ring_backward(douts, qkvs, outs, lses, states,
                                                            *positional, **keywords)
        except parallel_attn.ParallelAttnError as e:
            if kind == "torch-cuda" and e.status == 2:
                pytest.skip(str(e))
            raise
    for k, p in enumerate(members):
        check(case, "dqkv", dqkvs[k], expected[p]["dqkv"])
    return len(members)
