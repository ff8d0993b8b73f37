"""parallel_attn.testing.assert_close: its table is conformance's, and each rule fails just past
its bound and passes just inside it."""
import os
import re

import numpy as np
import pytest

from parallel_attn.testing import SOFTMAX_ATOL, TOLERANCES, assert_close, tolerance

from conftest import REPO, torch_or_skip


def c_tolerances():
    """The dtype_default table of conformance/tolerance.c, parsed."""
    text = open(os.path.join(REPO, "conformance", "tolerance.c")).read()
    body = text[text.index("dtype_default"):]
    rows = dict(re.findall(r"case PATTN_(FP16|BF16):\s*return \(conf_tolerance_t\)\{([^}]*)\}", body))
    rows["FP32"] = re.search(r"default:\s*return \(conf_tolerance_t\)\{([^}]*)\}", body).group(1)
    # The first five fields are the table (atol/rtol of out, atol_lse, atol/rtol of dqkv).
    return {name.lower(): tuple(float(v) for v in values.split(",")[:5])
            for name, values in rows.items()}


def test_table_is_conformances():
    assert TOLERANCES == c_tolerances()
    header = open(os.path.join(REPO, "conformance", "tolerance.h")).read()
    assert float(re.search(r"#define CONF_SOFTMAX_ATOL (\S+)", header).group(1)) == SOFTMAX_ATOL


@pytest.mark.parametrize("dtype", ["fp32", "fp16", "bf16"])
@pytest.mark.parametrize("kind", ["out", "dqkv", "lse"])
def test_bound_is_atol_plus_rtol(dtype, kind):
    expected = np.linspace(-2.0, 3.0, 40).reshape(4, 10)
    atol, rtol = tolerance(dtype, kind)
    bound = atol + rtol * np.abs(expected)
    assert_close(expected + 0.99 * bound, expected, dtype=dtype, kind=kind)
    beyond = expected.copy()
    beyond[2, 7] += 1.01 * bound[2, 7]
    with pytest.raises(AssertionError, match=r"1 of 40 elements beyond .* at \[2, 7\]"):
        assert_close(beyond, expected, dtype=dtype, kind=kind)


def test_dropout_grows_the_absolute_part():
    assert tolerance("bf16", "out", p_dropout=0.5)[0] == pytest.approx(2 * TOLERANCES["bf16"][0])
    assert tolerance("bf16", "dqkv", p_dropout=0.5)[0] == pytest.approx(2 * TOLERANCES["bf16"][3])


def test_overrides_replace_the_table():
    expected = np.zeros(3)
    with pytest.raises(AssertionError):
        assert_close(expected + 1e-3, expected, dtype="fp32", kind="lse")
    assert_close(expected + 1e-3, expected, dtype="fp32", kind="lse", atol=2e-3)


def test_lse_minus_infinity_is_exact():
    expected = np.array([0.5, -np.inf])
    assert_close(expected.copy(), expected, dtype="fp16", kind="lse")
    with pytest.raises(AssertionError, match="1 non-finite mismatches"):
        assert_close(np.array([0.5, -1e30]), expected, dtype="fp16", kind="lse")


def test_softmax_signs_and_zeros_are_exact():
    expected = np.array([0.25, -0.25, 0.0, -0.0, 0.5])
    assert_close(expected.astype(np.float32), expected, dtype="fp16", kind="softmax")
    for index, value, words in ((0, -0.25, "sign"), (3, 0.0, "sign"), (2, 1e-30, "zero"),
                                (4, 0.0, "zero")):
        wrong = expected.copy()
        wrong[index] = value
        with pytest.raises(AssertionError, match=words):
            assert_close(wrong, expected, dtype="fp16", kind="softmax")


def test_rng_state_is_exact():
    assert_close(np.array([2 ** 63 + 1, 5], np.uint64).view(np.int64), np.array([-(2 ** 63) + 1, 5]),
                 dtype="bf16", kind="rng_state")
    with pytest.raises(AssertionError, match="must be equal"):
        assert_close(np.array([1, 6]), np.array([1, 5]), dtype="bf16", kind="rng_state")


def test_shapes_must_match_up_to_leading_ones():
    assert_close(np.zeros((1, 2, 3)), np.zeros((2, 3)), dtype="fp32", kind="lse")
    with pytest.raises(AssertionError, match="shape"):
        assert_close(np.zeros((3, 2)), np.zeros((2, 3)), dtype="fp32", kind="lse")


@pytest.mark.parametrize("kind, factor", [("out", 2.0), ("dqkv", 3.0)])
def test_flash_attention_rule(kind, factor):
    """Within the table's tolerance, but measured against a naive same-dtype result: at most
    factor x its error plus the dtype's rounding floor (zero here: the expected values are
    0.5, which bf16 holds exactly, as it does 0.5 + 0.3 - 0.3)."""
    expected = np.full(8, 0.5)
    naive = expected + np.array([1e-4] + [0.0] * 7)
    just_inside, just_past = expected.copy(), expected.copy()
    just_inside[3] += (factor - 0.1) * 1e-4
    just_past[3] += (factor + 0.1) * 1e-4
    assert_close(just_inside, expected, dtype="bf16", kind=kind, naive=naive)
    assert_close(just_past, expected, dtype="bf16", kind=kind)  # the table alone lets it pass
    with pytest.raises(AssertionError, match="FlashAttention's rule"):
        assert_close(just_past, expected, dtype="bf16", kind=kind, naive=naive)


def test_flash_attention_rounding_floor():
    """An exact kernel's output rounded to bf16 passes against a naive one that is exact too."""
    expected = np.linspace(0.1, 0.9, 9)
    rounded = expected.astype(np.float32)
    bits = rounded.view(np.uint32)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000).astype(np.uint32).view(np.float32)
    assert_close(rounded, expected, dtype="bf16", kind="out", naive=expected)


def test_torch_tensors_are_accepted():
    torch = torch_or_skip()
    expected = np.linspace(-1, 1, 6)
    assert_close(torch.tensor(expected, dtype=torch.bfloat16), expected, dtype="bf16", kind="out")
