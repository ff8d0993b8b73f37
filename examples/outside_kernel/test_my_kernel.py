"""test_my_kernel.py: the README's example of validating a kernel that lives elsewhere
(my_kernels.py here) against the golden cases, with the conformance suite's tolerances."""
import os
import sys

import pytest

REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(REPO, "tools", "golden"))
import case_io  # noqa: E402
from my_kernels import my_attention  # noqa: E402
from parallel_attn.testing import assert_close  # noqa: E402


@pytest.mark.parametrize("name", ["mha_causal_bf16", "gqa2_causal_fp16", "batch3_fp16", "mha_full_fp32"])
def test_my_attention(name):
    case, expected = case_io.read_case(os.path.join(REPO, "data", name))
    out, lse = my_attention(case["qkv"][0], case["head_dim"], case["group_query_ratio"],
                            case["seq_lens"][0][0], case["is_causal"])
    out = case_io.round_to(out, case["dtype"])  # a kernel's output is in the op dtype
    assert_close(out, expected[0]["out"], dtype=case["dtype"], kind="out")
    assert_close(lse, expected[0]["lse"], dtype=case["dtype"], kind="lse")
