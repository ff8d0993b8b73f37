"""tools/golden/case_io.py: write_case reproduces every shipped case that the generators wrote
through it (make_cases.py) byte for byte from what read_case gives back, and refuses inputs the
format cannot hold."""
import filecmp
import os
import sys

import numpy as np
import pytest

import case_io
import make_cases

from conftest import DATA, golden_cases


MINIMAL = {"dtype": "fp32", "head_dim": 8, "group_query_ratio": 1, "seq_lens": [[2]],
           "cp_groups": [[0]]}


def comment_lines(folder):
    with open(os.path.join(folder, "case.txt")) as f:
        return [line[2:].rstrip("\n") for line in f if line.startswith("# ")]


def written_by_make_cases(name):
    """The cases make_cases.py wrote (through case_io); others come from generators of their own."""
    return any("written by tools/golden/make_cases.py" in line
               for line in comment_lines(os.path.join(DATA, name)))


@pytest.mark.parametrize("name", [n for n in golden_cases() if written_by_make_cases(n)])
def test_write_case_reproduces_the_shipped_case(name, tmp_path):
    folder = os.path.join(DATA, name)
    case, expected = case_io.read_case(folder)
    config = {k: v for k, v in case.items() if k not in case_io.INPUT_ARRAYS}
    arrays = {k: case[k] for k in case_io.INPUT_ARRAYS if k in case}
    for p, by_name in expected.items():
        for array_name, array in by_name.items():
            arrays.setdefault(array_name, {})[p] = array
    case_io.write_case(str(tmp_path), config, arrays, comment_lines(folder))
    assert sorted(os.listdir(tmp_path)) == sorted(os.listdir(folder))
    for file in os.listdir(folder):
        assert filecmp.cmp(os.path.join(folder, file), tmp_path / file, shallow=False), file


def test_inputs_must_be_exact_in_the_dtype(tmp_path):
    qkv = np.full((2, 24), 0.1, np.float32)
    with pytest.raises(ValueError, match=r"qkv\[0, 0\] = 0.1000000014\d* is not exactly representable in fp16"):
        case_io.write_case(str(tmp_path), dict(MINIMAL, dtype="fp16"), {"qkv": [qkv]})
    case_io.write_case(str(tmp_path), dict(MINIMAL, dtype="fp16"), {"qkv": [case_io.round_to(qkv, "fp16")]})


def test_unsigned_seeds_and_stale_arrays(tmp_path):
    case_io.write_case(str(tmp_path), MINIMAL, {"softmax": [np.zeros(2)]})
    seed = 2 ** 64 - 3
    case_io.write_case(str(tmp_path), dict(MINIMAL, rng_seed=seed),
                       {"rng_state": [[seed, 64]]})
    assert sorted(os.listdir(tmp_path)) == ["case.txt", "rng_state.0.npy"]
    stored = np.load(tmp_path / "rng_state.0.npy")
    assert stored.dtype == np.int64 and stored.view(np.uint64).tolist() == [seed, 64]
    case, _ = case_io.read_case(str(tmp_path))
    assert case["rng_seed"] == seed


def test_required_keys(tmp_path):
    with pytest.raises(ValueError, match=r"lacks \['group_query_ratio'\]"):
        case_io.write_case(str(tmp_path), {k: v for k, v in MINIMAL.items()
                                           if k != "group_query_ratio"}, {})


def test_unknown_array_name(tmp_path):
    with pytest.raises(ValueError, match="'output'"):
        case_io.write_case(str(tmp_path), MINIMAL, {"output": [np.zeros(2)]})


def test_make_cases_regenerates_the_shipped_cases(tmp_path):
    """make_cases.py runs and gives back every case it wrote: case.txt byte for byte, arrays
    within a few float64 ulps of the array's largest element (numpy's matmul order may differ
    between versions)."""
    argv = sys.argv
    sys.argv = ["make_cases.py", "--out", str(tmp_path)]
    try:
        make_cases.main()
    finally:
        sys.argv = argv
    names = [s["name"] for s in make_cases.CASES]
    assert sorted(names) == [n for n in golden_cases() if written_by_make_cases(n)]
    for name in names:
        ours, shipped = os.path.join(tmp_path, name), os.path.join(DATA, name)
        assert sorted(os.listdir(ours)) == sorted(os.listdir(shipped)), name
        assert filecmp.cmp(os.path.join(ours, "case.txt"), os.path.join(shipped, "case.txt"),
                           shallow=False), name
        for f in os.listdir(shipped):
            if f.endswith(".npy"):
                a, b = np.load(os.path.join(ours, f)), np.load(os.path.join(shipped, f))
                assert a.dtype == b.dtype and a.shape == b.shape, (name, f)
                scale = float(np.nanmax(np.abs(b), initial=0.0))
                np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-14 * scale, equal_nan=True,
                                           err_msg="%s/%s" % (name, f))
