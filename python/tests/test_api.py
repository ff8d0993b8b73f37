"""The package's calling conventions on numpy arrays: errors, the generator, ragged strategy
tables, cast_exact, the emulated ring's step observer, and the check of the ctypes mirror.
Expected values come from the golden cases or the float64 oracle."""
import math
import os
import re
import types

import numpy as np
import pytest

import case_io
import oracle
import parallel_attn
from parallel_attn import _capi
from parallel_attn.testing import assert_close

from conftest import DATA, REPO


def golden(name):
    return case_io.read_case(os.path.join(DATA, name))


def small_qkv(rows=12, heads=3, head_dim=8, seed=0):
    return np.random.default_rng(seed).standard_normal((rows, heads * head_dim)).astype(np.float32)


# ---------------------------------------------------------------- errors

def test_bad_head_dim_raises_the_library_message():
    with pytest.raises(parallel_attn.ParallelAttnError, match=r"head_dim = 12: expected a multiple of 8") as e:
        parallel_attn.parallel_attn(small_qkv(head_dim=12), 12, 1, [[12]], [[0]])
    assert e.value.status == _capi.INVALID_ARGUMENT


@pytest.mark.parametrize("qkv, error, words", [
    (np.zeros((2, 3, 8), np.float32), ValueError, "expected 2 dimensions"),
    (np.zeros((4, 24), np.float64), TypeError, "cast_exact"),
])
def test_bad_qkv_array(qkv, error, words):
    with pytest.raises(error, match=words):
        parallel_attn.parallel_attn(qkv, 8, 1, [[4]], [[0]])


def test_packing_needs_cu_seqlens():
    with pytest.raises(ValueError, match="cu_seqlens_q = None"):
        parallel_attn.parallel_attn(small_qkv(), 8, 1, [[12]], [[0]], packing=True)


def test_ring_cu_seqlens_need_a_row_per_member():
    qkvs = [small_qkv(6), small_qkv(6, seed=1)]
    with pytest.raises(ValueError, match=r"expected \(2, P \+ 1\)"):
        parallel_attn.emulate_ring(qkvs, 8, 1, [[6, 6]], [[0, 0]], True, np.array([0, 2, 6]))


def test_emulate_ring_needs_one_array_per_member():
    with pytest.raises(ValueError, match="a list of 2 arrays"):
        parallel_attn.emulate_ring([small_qkv(6)], 8, 1, [[6, 6]], [[0, 0]])


def test_backward_checks_array_shapes():
    qkv = small_qkv()
    out, lse, rng_state = parallel_attn.parallel_attn(qkv, 8, 1, [[12]], [[0]])
    with pytest.raises(ValueError, match=r"dout has shape \(12, 4\): expected \(12, 8\)"):
        parallel_attn.parallel_attn_backward(np.zeros((12, 4), np.float32), qkv, out, lse,
                                             rng_state, 8, 1, [[12]], [[0]])


def test_unknown_split():
    with pytest.raises(ValueError, match="split = 'zigzag'"):
        parallel_attn.parallel_attn(small_qkv(), 8, 1, [[12]], [[0]], split="zigzag")


# ---------------------------------------------------------------- the generator

def dropout_call(generator):
    return parallel_attn.parallel_attn(small_qkv(), 8, 1, [[6]], [[0]], p_dropout=0.3,
                                       generator=generator)


def test_generator_object_advances_by_b_hq_32():
    generator = parallel_attn.Generator(2 ** 63 + 5, 64)
    _, _, rng_state = dropout_call(generator)
    assert rng_state.view(np.uint64).tolist() == [2 ** 63 + 5, 64]
    assert generator.offset == 64 + 2 * 1 * 32  # B = 2, Hq = 1


def test_generator_pair_is_used_not_advanced():
    pair = (7, 96)
    first = dropout_call(pair)
    second = dropout_call(pair)
    assert first[2].tolist() == [7, 96] and pair == (7, 96)
    np.testing.assert_array_equal(first[0], second[0])
    moved = dropout_call((7, 96 + 64))
    assert not np.array_equal(first[0], moved[0]), "a new offset must draw a new mask"


def test_default_generator_advances_only_with_dropout():
    start = parallel_attn.default_generator.offset
    parallel_attn.parallel_attn(small_qkv(), 8, 1, [[6]], [[0]])
    assert parallel_attn.default_generator.offset == start
    dropout_call(None)
    assert parallel_attn.default_generator.offset == start + 64


# ---------------------------------------------------------------- strategy tables

def test_ragged_strategies_are_padded():
    """Strategy 1 has one pipeline where strategy 0 has two: the call runs strategy 1 as the
    plain single-rank case, whose oracle result it must match."""
    case, expected = golden("mha_causal_fp32")
    qkv = case["qkv"][0]
    length = case["seq_lens"][0][0]
    out, lse, _ = parallel_attn.parallel_attn(qkv, case["head_dim"], 1,
                                              [[length // 2, length // 2], [length]],
                                              [[3, 3], [3]], strategy=1)
    assert_close(out, expected[0]["out"], dtype="fp32", kind="out")
    assert_close(lse, expected[0]["lse"], dtype="fp32", kind="lse")


def test_mismatched_tables():
    with pytest.raises(ValueError, match="strategy 0: multi_seq_lens has 2 pipelines, multi_cp_group 1"):
        parallel_attn.parallel_attn(small_qkv(), 8, 1, [[6, 6]], [[0]])


# ---------------------------------------------------------------- cast_exact

def test_cast_exact_bf16():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    held = case_io.round_to(np.linspace(-3, 3, 11), "bf16")
    cast = parallel_attn.cast_exact(held, "bf16")
    assert cast.dtype == ml_dtypes.bfloat16
    np.testing.assert_array_equal(cast.astype(np.float32), held)
    with pytest.raises(ValueError, match=r"item \[1\] = 0.1000000014\d* is not exactly representable in bf16"):
        parallel_attn.cast_exact(np.array([0.5, 0.1], np.float32), "bf16")


# ---------------------------------------------------------------- the step observer

def test_step_observer_partials_merge_to_the_golden_result():
    """Each member sees every member's K/V block once, in the order (member - step) mod n, and
    the LSE merge of its partials (done here in float64) is the case's expected out and lse."""
    case, expected = golden("ring3_sym_fp32")
    members = oracle.rings_of(case)[0]
    n = len(members)
    steps = {k: [] for k in range(n)}

    def on_step(member, step, kv_member, out_partial, lse_partial):
        steps[member].append((step, kv_member, out_partial.astype(np.float64),
                              lse_partial.astype(np.float64)))

    parallel_attn.emulate_ring([case["qkv"][p] for p in members], case["head_dim"],
                               case["group_query_ratio"], case["seq_lens"], case["cp_groups"],
                               softmax_scale=case["softmax_scale"], is_causal=bool(case["is_causal"]),
                               split=case["split"], on_step=on_step)
    d = case["head_dim"]
    for k, p in enumerate(members):
        seen = steps[k]
        assert [(s, kv) for s, kv, _, _ in seen] == [(t, (k - t) % n) for t in range(n)]
        lse = np.logaddexp.reduce(np.stack([lse for _, _, _, lse in seen]), axis=0)
        out = 0.0
        for _, _, out_t, lse_t in seen:
            weight = np.where(np.isneginf(lse_t), 0.0, np.exp(lse_t - lse))  # (B, Hq, L)
            rows = weight.transpose(0, 2, 1).reshape(-1, weight.shape[1])    # (B L, Hq)
            out = out + np.repeat(rows, d, axis=1) * out_t
        assert_close(lse, expected[p]["lse"], dtype="fp32", kind="lse")
        assert_close(out, expected[p]["out"], dtype="fp32", kind="out")


def test_step_observer_errors_reach_the_caller():
    def on_step(*_):
        raise KeyError("from the observer")
    with pytest.raises(KeyError, match="from the observer"):
        parallel_attn.emulate_ring([small_qkv(6), small_qkv(6, seed=1)], 8, 1, [[6, 6]],
                                   [[0, 0]], on_step=on_step)


# ---------------------------------------------------------------- the library and its mirror

def header_version():
    text = open(os.path.join(REPO, "include", "parallel_attn.h")).read()
    return tuple(int(re.search(r"#define PATTN_VERSION_%s (\d+)" % part, text).group(1))
                 for part in ("MAJOR", "MINOR", "PATCH"))


def test_version_is_the_headers():
    assert parallel_attn.__version__ == "%d.%d.%d" % header_version()


def capi_with(old, new):
    """A copy of the _capi module whose source has `old` replaced by `new`."""
    source = open(_capi.__file__).read()
    assert old in source
    module = types.ModuleType("capi_variant")
    exec(compile(source.replace(old, new), _capi.__file__, "exec"), module.__dict__)
    return module


@pytest.mark.parametrize("old, new, words", [
    ('("rows", C.c_int64), ("cols", C.c_int64)', '("cols", C.c_int64), ("rows", C.c_int64)',
     "does not match"),
    (', ("deterministic", C.c_int),', ",", "params.size"),
    ("HEADER_VERSION = (0, 1)", "HEADER_VERSION = (0, 2)", "mirrors the API of 0.2"),
])
def test_a_wrong_mirror_fails_at_load(old, new, words):
    with pytest.raises(ImportError, match=re.escape(words)):
        capi_with(old, new).load(parallel_attn.library_path())


def test_softmax_scale_default_is_one_over_sqrt_d():
    case, expected = golden("mha_full_fp32")
    explicit = parallel_attn.parallel_attn(case["qkv"][0], case["head_dim"], 1, case["seq_lens"],
                                           case["cp_groups"], is_causal=False,
                                           softmax_scale=1 / math.sqrt(case["head_dim"]))
    assert_close(explicit[0], expected[0]["out"], dtype="fp32", kind="out")
