"""Checks of a kernel's outputs against expected ones, with the conformance suite's rules.

    from parallel_attn.testing import assert_close
    assert_close(my_out, expected_out, dtype="bf16", kind="out")

`expected` is the float64 oracle's result (the golden cases' expected arrays, or
tools/golden/oracle.py's compute()). Rules per kind, as conformance applies them
(conformance/tolerance.h; the table below is the one of conformance/tolerance.c):
  out, dqkv   |actual - expected| <= atol + rtol * |expected|, atol grown by 1/(1 - p_dropout)
  lse         |actual - expected| <= atol_lse, and -inf exactly where expected is -inf
  softmax     the sign bits (dropout) and the zeros (mask) exactly, magnitudes within
              SOFTMAX_ATOL + rtol_out * |expected|, expected taken as fp32
  rng_state   exactly
Non-finite expected values must be matched exactly. With `naive`, the output of a naive
implementation in the same dtype (for example plain torch attention in bf16), FlashAttention's
rule applies as well: the max error of actual is at most 2x (out) or 3x (dqkv) that of naive,
plus twice the rounding noise of the dtype at the values' scale, all measured against expected.
"""
import numpy as np

from ._arrays import is_torch

# (atol_out, rtol_out, atol_lse, atol_dqkv, rtol_dqkv) per dtype: conformance/tolerance.c.
TOLERANCES = {
    "fp32": (1e-5, 1e-4, 5e-5, 1e-4, 1e-3),
    "fp16": (5e-4, 2e-3, 2e-4, 2e-3, 5e-3),
    "bf16": (4e-3, 1.6e-2, 2e-4, 1e-2, 3e-2),
}
SOFTMAX_ATOL = 1e-5
KINDS = ("out", "lse", "softmax", "dqkv", "rng_state")
_FLT_MIN = float(np.finfo(np.float32).tiny)


def tolerance(dtype, kind, p_dropout=0.0):
    """(atol, rtol) of a kind of output for an op dtype, as conformance uses them."""
    if dtype not in TOLERANCES:
        raise ValueError("dtype = %r: expected one of %s" % (dtype, sorted(TOLERANCES)))
    atol_out, rtol_out, atol_lse, atol_dqkv, rtol_dqkv = TOLERANCES[dtype]
    keep_scale = 1.0 / (1.0 - p_dropout)
    table = {"out": (atol_out * keep_scale, rtol_out), "dqkv": (atol_dqkv * keep_scale, rtol_dqkv),
             "lse": (atol_lse, 0.0), "softmax": (SOFTMAX_ATOL, rtol_out), "rng_state": (0.0, 0.0)}
    if kind not in table:
        raise ValueError("kind = %r: expected one of %s" % (kind, list(KINDS)))
    return table[kind]


def _host(x):
    """x as a host numpy array (torch tensors of any device and dtype, ml_dtypes arrays)."""
    if is_torch(x):
        x = x.detach().cpu()
        x = x.double() if x.is_floating_point() else x
        return x.numpy()
    return np.asarray(x)


def _squeezed(a):
    """Leading dimensions of size 1 dropped, so (1, Hq, T) and (Hq, T) compare equal."""
    first = 0
    while first < a.ndim - 1 and a.shape[first] == 1:
        first += 1
    return a.reshape(a.shape[first:])


def _numpy_dtype(dtype):
    if dtype == "bf16":
        import ml_dtypes
        return ml_dtypes.bfloat16
    return {"fp32": np.float32, "fp16": np.float16}[dtype]


def _rounding_noise(expected, dtype):
    """FlashAttention's floor: 2 max|(x + 0.3) - 0.3 - x| with x and the arithmetic in dtype."""
    x = expected.astype(_numpy_dtype(dtype))
    shifted = (x + x.dtype.type(0.3)) - x.dtype.type(0.3)
    return 2.0 * float(np.max(np.abs(shifted.astype(np.float64) - x.astype(np.float64)), initial=0))


def _where(flat_index, shape):
    return [int(i) for i in np.unravel_index(flat_index, shape)] if shape else []


def assert_close(actual, expected, *, dtype, kind, p_dropout=0.0, naive=None, atol=None,
                 rtol=None):
    """Raises AssertionError, saying where and by how much, unless `actual` meets the rule of
    `kind` for `dtype` against `expected` (module docstring); atol/rtol override the table, as
    a golden case's atol_out/rtol_out/atol_lse/atol_dqkv/rtol_dqkv keys do. Returns the share
    of the tolerance used (the largest error / bound)."""
    table_atol, table_rtol = tolerance(dtype, kind, p_dropout)
    atol = table_atol if atol is None else atol
    rtol = table_rtol if rtol is None else rtol
    got, want = _squeezed(_host(actual)), _squeezed(_host(expected))
    name = "%s (%s)" % (kind, dtype)
    if got.shape != want.shape:
        raise AssertionError("%s: actual has shape %s, expected %s"
                             % (name, _host(actual).shape, _host(expected).shape))
    if kind == "rng_state":
        if not np.array_equal(got.astype(np.int64), want.astype(np.int64)):
            raise AssertionError("%s: actual %s, expected %s (must be equal)"
                                 % (name, got.tolist(), want.tolist()))
        return 0.0
    got, want = got.astype(np.float64), want.astype(np.float64)
    if kind == "softmax":
        want = want.astype(np.float32).astype(np.float64)
    problems = _exact_mismatches(got, want, kind)
    finite = np.isfinite(got) & np.isfinite(want)
    g, e = (np.abs(got), np.abs(want)) if kind == "softmax" else (got, want)
    g, e = np.where(finite, g, 0.0), np.where(finite, e, 0.0)
    err = np.abs(g - e)
    bound = atol + rtol * np.abs(e)
    share = np.where(bound > 0, err / np.where(bound > 0, bound, 1.0), np.where(err > 0, np.inf, 0.0))
    beyond = int(np.count_nonzero(share > 1))
    worst = int(np.argmax(share)) if share.size else 0
    used = float(share.reshape(-1)[worst]) if share.size else 0.0
    if problems or beyond:
        flat_got, flat_want = got.reshape(-1), want.reshape(-1)
        at = problems[0][1] if problems else worst
        raise AssertionError(
            "%s: %d of %d elements beyond atol %g + rtol %g * |expected|%s; at %s actual %r, "
            "expected %r (max share of the tolerance %.3g)"
            % (name, beyond, got.size, atol, rtol,
               "".join(", %d %s" % (count, what) for what, _, count in problems),
               _where(at, got.shape), float(flat_got[at]), float(flat_want[at]), used))
    if naive is not None:
        _check_flash_rule(got, want, naive, dtype, kind, name)
    return used


def _exact_mismatches(got, want, kind):
    """[(what, first flat index, count)] of the parts that must match exactly."""
    checks = [("non-finite mismatches", ~(np.isfinite(got) & np.isfinite(want)) &
               ~((np.isnan(got) & np.isnan(want)) | (got == want)))]
    if kind == "softmax":
        checks.append(("sign (dropout) mismatches", np.signbit(got) != np.signbit(want)))
        checks.append(("zero (mask) mismatches", (np.abs(got) < _FLT_MIN) != (np.abs(want) < _FLT_MIN)))
    found = []
    for what, mask in checks:
        mask = mask.reshape(-1)
        if mask.any():
            found.append((what, int(np.argmax(mask)), int(np.count_nonzero(mask))))
    return found


def _check_flash_rule(got, want, naive, dtype, kind, name):
    if kind not in ("out", "dqkv"):
        raise ValueError("naive is for kind 'out' or 'dqkv' (FlashAttention's rule), not %r" % kind)
    reference = _squeezed(_host(naive)).astype(np.float64)
    if reference.shape != want.shape:
        raise AssertionError("%s: naive has shape %s, expected %s" % (name, reference.shape, want.shape))
    factor = 3.0 if kind == "dqkv" else 2.0
    error = float(np.max(np.abs(got - want), initial=0))
    naive_error = float(np.max(np.abs(reference - want), initial=0))
    floor = _rounding_noise(want, dtype)
    if error > factor * naive_error + floor:
        raise AssertionError("%s: max error %.3g exceeds FlashAttention's rule: %g x the naive "
                             "same-dtype error %.3g + rounding floor %.3g = %.3g"
                             % (name, error, factor, naive_error, floor,
                                factor * naive_error + floor))
