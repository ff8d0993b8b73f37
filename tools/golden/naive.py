"""A naive same-dtype attention: the yardstick of FlashAttention's tolerance rule.

FlashAttention's tests accept a kernel whose error against a float64-accurate reference is at
most 2x (forward) or 3x (gradients) the error of PyTorch's naive attention run in the same dtype
(`attention_ref(..., upcast=False)` there), plus the dtype's rounding noise. make_cases.py
records that naive error per case (case.txt keys naive_err_out and naive_err_dqkv) and the
conformance harness checks the rule beside its fixed tolerance table.

The model, for fp16 and bf16 (rd = round to the dtype, nearest even; every product and sum in
float32, as PyTorch's half-precision matmuls accumulate in float32 and round once):
  forward   qs = rd(q * scale); s = rd(qs k^T); masked entries -inf; p = rd(softmax(s)), computed
            in float32 from the rounded scores (a row with no visible key is 0); vs = rd(v / (1 - p_drop));
            out = rd((p * keep) vs)
  backward  autograd through the same graph, each gradient rounded where PyTorch's would be:
            dpk = rd(dout vs^T); dvs = rd((p * keep)^T dout); dv = rd(dvs / (1 - p_drop));
            dp = dpk * keep; ds = rd(p * (dp - rowsum(dp * p))), 0 where masked;
            dqs = rd(ds k); dk = rd(ds^T qs); dq = rd(dqs * scale); with GQA the K/V heads are
            repeated for their r query heads, and each head's (rounded) dk, dv summed over them in
            float32 and rounded again. Division by (1 - p_drop) is a multiplication by its float32
            reciprocal.
For fp32 the same graph runs in float32 without extra rounding.
"""
import numpy as np

import oracle
from case_io import round_to


def naive_attention(dtype):
    """An attend(q, k, v, causal, scale, keep, p, dout) for oracle.compute that returns the
    naive dtype model's out, dq, dk, dv (and the float64 oracle's lse, prob and valid)."""

    def rd(x):
        return round_to(x, dtype)

    def attend(q, k, v, causal, scale, keep=None, p=0.0, dout=None):
        exact = oracle.attention(q, k, v, causal, scale, keep, p, dout)
        nq, hq, d = q.shape
        nk, hkv, _ = k.shape
        r = hq // hkv
        valid = exact["valid"]
        f32 = np.float32
        q32, k32, v32 = (np.asarray(x, f32) for x in (q, k, v))
        ke, ve = np.repeat(k32, r, axis=1), np.repeat(v32, r, axis=1)
        qs = rd(q32 * f32(scale))
        s = rd(np.einsum("ihd,jhd->hij", qs, ke))
        s = np.where(valid[None], s, f32(-np.inf))
        has_key = valid.any(axis=1)[None, :, None]
        m = np.where(has_key, s.max(axis=2, keepdims=True, initial=-np.inf), f32(0))
        e = np.where(valid[None], np.exp(s - m), f32(0))
        prob = rd(np.where(has_key, e / np.where(has_key, e.sum(axis=2, keepdims=True), 1), 0))
        kept = np.ones_like(prob) if keep is None else keep.astype(f32)
        vs = rd(ve * f32(1.0 / (1.0 - p)))
        pk = prob * kept
        result = dict(exact, out=rd(np.einsum("hij,jhd->ihd", pk, vs)).astype(np.float64))
        if dout is None:
            return result
        do = np.asarray(dout, f32)
        dpk = rd(np.einsum("ihd,jhd->hij", do, vs))
        dvs = rd(np.einsum("hij,ihd->jhd", pk, do))
        dve = rd(dvs * f32(1.0 / (1.0 - p)))
        dp = dpk * kept
        ds = rd(prob * (dp - (dp * prob).sum(axis=2, keepdims=True)))
        ds = np.where(valid[None], ds, f32(0))
        dqs = rd(np.einsum("hij,jhd->ihd", ds, ke))
        dke = rd(np.einsum("hij,ihd->jhd", ds, qs))
        result["dq"] = rd(dqs * f32(scale)).astype(np.float64)
        result["dk"] = rd(dke.reshape(nk, hkv, r, d).sum(axis=2)).astype(np.float64)
        result["dv"] = rd(dve.reshape(nk, hkv, r, d).sum(axis=2)).astype(np.float64)
        return result

    return attend


def naive_errors(case, expected, dtype):
    """max |naive - expected| of out (and dqkv for a backward case) over the expected pipelines
    {p: {name: array}}: the FlashAttention baselines of a case of that dtype."""
    naive = oracle.compute(case, attend=naive_attention(dtype))
    errors = {"out": 0.0}
    if case.get("backward"):
        errors["dqkv"] = 0.0
    for p, arrays in expected.items():
        for name in errors:
            errors[name] = max(errors[name], float(np.max(np.abs(naive[p][name] - arrays[name]),
                                                            initial=0.0)))
    return errors
