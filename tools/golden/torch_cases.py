#!/usr/bin/env python3
"""Golden cases from PyTorch's FlashAttention-2 kernels (run on a GPU machine with PyTorch).

Writes ~10 small cases (names start with torch_) in the format of SPEC section 6 into --out,
then packs the folder into <out>.tar.gz.  Expected out / lse / dqkv come from torch (cast to
float32); rng_state is the [seed, offset] torch reports.  Where dropout is on, softmax.<p>.npy
holds the normalised probabilities computed by the numpy oracle with the sign (dropped) taken
from torch's debug_attn_mask.  Before writing each case the script prints torch's difference
to oracle.py (a sanity check, not a filter) and, when fa2_dropout_model.py is found, the
number of mask mismatches between torch and the model.

  python3 tools/golden/torch_cases.py --out /tmp/torch_golden
  (then: tar xzf /tmp/torch_golden.tar.gz -C data --strip-components=1;
         python3 tools/golden/make_cases.py   to refresh data/README.md)
"""
import argparse
import os
import sys
import tarfile
import traceback

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import case_io  # noqa: E402
import make_cases  # noqa: E402
import oracle  # noqa: E402
from make_cases import spec  # noqa: E402

SEED = 2 ** 34 + 77           # a philox seed with high 32 bits set
OFFSET = 2 ** 32 + 64 * 32    # a generator offset above 2^32 (if torch lets us set it)

CASES = [
    spec("torch_mha_causal_bf16", "torch flash: MHA causal bf16, B=2, Hq=2, L=77, D=32",
         dtype="bf16", batch=2, seq_lens=[[77]]),
    spec("torch_mha_full_fp16", "torch flash: MHA full fp16, Hq=3, L=50", dtype="fp16",
         hkv=3, is_causal=0, seq_lens=[[50]]),
    spec("torch_gqa_causal_fp16", "torch flash: GQA r=2 causal fp16 (K/V expanded for torch), "
         "Hkv=1, L=64, D=64", dtype="fp16", group_query_ratio=2, hkv=1, seq_lens=[[64]],
         head_dim=64),
    spec("torch_dropout_causal_bf16", "torch flash: dropout p=0.17 causal bf16, B=2, L=70, "
         "softmax signs from torch's debug mask", dtype="bf16", p_dropout=0.17, batch=2,
         seq_lens=[[70]], return_softmax=1, hkv=1),
    spec("torch_dropout_gqa_full_fp16", "torch flash: dropout p=0.5 GQA r=2 full fp16, L=45, "
         "softmax signs from torch", dtype="fp16", p_dropout=0.5, group_query_ratio=2, hkv=1,
         is_causal=0, seq_lens=[[45]], return_softmax=1),
    spec("torch_varlen_causal_fp16", "torch flash varlen: packed cu_q != cu_k causal fp16 "
         "(Nq>Nk rows without key, Nq<Nk), bottom-right", dtype="fp16", hkv=1,
         q_lens=[12, 30, 5], k_lens=[5, 40, 2]),
    spec("torch_varlen_dropout_bf16", "torch flash varlen: packed dropout p=0.17 causal bf16, "
         "GQA r=2, softmax signs from torch", dtype="bf16", p_dropout=0.17, group_query_ratio=2,
         hkv=1, q_lens=[33, 20, 41], k_lens=[33, 20, 41], return_softmax=1),
    spec("torch_bwd_causal_bf16", "torch flash autograd: backward causal bf16, B=2, L=40",
         dtype="bf16", backward=1, batch=2, seq_lens=[[40]], hkv=1),
    spec("torch_bwd_gqa_full_fp16", "torch flash autograd: backward GQA r=2 full fp16, L=36",
         dtype="fp16", backward=1, group_query_ratio=2, hkv=1, is_causal=0, seq_lens=[[36]]),
    spec("torch_bwd_dropout_fp16", "torch flash autograd: backward dropout p=0.17 causal fp16, "
         "L=50 (seed/offset verified by replaying the forward)", dtype="fp16", backward=1,
         p_dropout=0.17, seq_lens=[[50]], hkv=1),
]

torch = None  # imported in main()


# ------------------------------------------------------------------ torch helpers

def generator():
    return torch.cuda.default_generators[torch.cuda.current_device()]


def reset_generator(seed, offset):
    """Seed the CUDA generator and try to set its offset; returns the offset it has now."""
    torch.manual_seed(seed)
    try:
        generator().set_offset(offset)
    except Exception as e:  # older torch: no set_offset
        print("  note: cannot set generator offset (%s); using its offset as is" % e)
    try:
        return int(generator().get_offset())
    except Exception:
        return None


def rng_pair(first, second):
    """[seed, offset] from the two rng outputs of a flash op (old: two scalars; new: a (2,)
    tensor and an unused one)."""
    a = first.detach().cpu()
    if a.numel() == 2:
        return [int(x) & (2 ** 64 - 1) for x in a.view(torch.int64).tolist()]
    b = second.detach().cpu()
    return [int(a.view(torch.int64).item()) & (2 ** 64 - 1), int(b.view(torch.int64).item()) & (2 ** 64 - 1)]


def to_device(x, dtype):
    return torch.from_numpy(np.ascontiguousarray(x)).to(device="cuda", dtype=dtype)


def to_numpy(t):
    return t.detach().float().cpu().numpy()


def torch_dtype(name):
    return {"fp16": torch.float16, "bf16": torch.bfloat16}[name]


def split_qkv(qkv, hq, hkv, d):
    return qkv[:, :hq * d], qkv[:, hq * d:(hq + hkv) * d], qkv[:, (hq + hkv) * d:]


# ------------------------------------------------------------------ the flash calls

def padded_forward(s, case, return_debug):
    """aten._scaled_dot_product_flash_attention on (B, H, L, D): out (rows, Hq*D), lse (B, Hq, L),
    [seed, offset], keep mask (B, Hq, L, L) or None."""
    d, r = s["head_dim"], s["group_query_ratio"]
    hkv, hq = s["hkv"], s["hkv"] * s["group_query_ratio"]
    length, batch = s["seq_lens"][0][0], s["batch"]
    dt = torch_dtype(s["dtype"])
    q, k, v = (to_device(x, dt).reshape(batch, length, -1, d).transpose(1, 2)
               for x in split_qkv(case["qkv"][0], hq, hkv, d))
    k, v = (x.repeat_interleave(r, dim=1).contiguous() for x in (k, v))
    res = torch.ops.aten._scaled_dot_product_flash_attention(
        q.contiguous(), k, v, float(s["p_dropout"]), bool(s["is_causal"]), return_debug,
        scale=oracle.softmax_scale_of(case))
    out = to_numpy(res[0].transpose(1, 2).reshape(batch * length, hq * d))
    lse = to_numpy(res[1])[:, :, :length]
    keep = None
    if return_debug:
        keep = ~torch.signbit(res[8][:, :, :length, :length]).cpu().numpy()
    return out, lse, rng_pair(res[6], res[7]), keep


def varlen_forward(s, case, return_debug):
    """aten._flash_attention_forward on packed (T, H, D): out (T, Hq*D), lse (Hq, T),
    [seed, offset], keep masks per sequence (list of (Hq, Nq, Nk)) or None."""
    d, r = s["head_dim"], s["group_query_ratio"]
    hkv, hq = s["hkv"], s["hkv"] * s["group_query_ratio"]
    dt = torch_dtype(s["dtype"])
    q, k, v = (to_device(x, dt).reshape(x.shape[0], -1, d)
               for x in split_qkv(case["qkv"][0], hq, hkv, d))
    k, v = (x.repeat_interleave(r, dim=1).contiguous() for x in (k, v))
    cu_q, cu_k = case["cu_seqlens_q"][0], case["cu_seqlens_k"][0]
    max_q, max_k = int(np.max(np.diff(cu_q))), int(np.max(np.diff(cu_k)))
    res = torch.ops.aten._flash_attention_forward(
        q.contiguous(), k, v, to_device(cu_q, torch.int32), to_device(cu_k, torch.int32),
        max_q, max_k, float(s["p_dropout"]), bool(s["is_causal"]), return_debug,
        scale=oracle.softmax_scale_of(case))
    total = q.shape[0]
    out = to_numpy(res[0].reshape(total, hq * d))
    lse = to_numpy(res[1])
    if lse.shape != (hq, total):  # older torch: padded (P, Hq, max_q)
        lse = np.concatenate([lse[i, :, :cu_q[i + 1] - cu_q[i]] for i in range(len(cu_q) - 1)], 1)
    keep = None
    if return_debug:
        signs = torch.signbit(res[4]).cpu().numpy()
        keep = [~signs[i, :, :cu_q[i + 1] - cu_q[i], :cu_k[i + 1] - cu_k[i]]
                for i in range(len(cu_q) - 1)]
    return out, lse, rng_pair(res[2], res[3]), keep


def autograd_backward(s, case):
    """out and dqkv through F.scaled_dot_product_attention on the flash backend."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    d, r = s["head_dim"], s["group_query_ratio"]
    hkv, hq = s["hkv"], s["hkv"] * s["group_query_ratio"]
    length, batch = s["seq_lens"][0][0], s["batch"]
    dt = torch_dtype(s["dtype"])
    leaves = [to_device(x, dt).reshape(batch, length, -1, d).transpose(1, 2).detach().requires_grad_(True)
              for x in split_qkv(case["qkv"][0], hq, hkv, d)]
    q, k, v = leaves
    dout = to_device(case["dout"][0], dt).reshape(batch, length, hq, d).transpose(1, 2)
    with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
        o = torch.nn.functional.scaled_dot_product_attention(
            q, k.repeat_interleave(r, dim=1), v.repeat_interleave(r, dim=1),
            dropout_p=float(s["p_dropout"]), is_causal=bool(s["is_causal"]),
            scale=oracle.softmax_scale_of(case))
        o.backward(dout)
    grads = [to_numpy(x.grad.transpose(1, 2).reshape(batch * length, -1)) for x in leaves]
    out = to_numpy(o.transpose(1, 2).reshape(batch * length, hq * d))
    return out, np.concatenate(grads, axis=1)


# ------------------------------------------------------------------ one case

def lse_rows(case, lse):
    return lse if case["packing"] else lse.transpose(1, 0, 2).reshape(lse.shape[1], -1)


def max_diff(a, b):
    same = a == b  # also equal infinities
    with np.errstate(invalid="ignore"):
        return float(np.max(np.where(same, 0.0, np.abs(a - b)), initial=0.0))


def model_mismatches(s, case, keep_fn, units):
    """Torch keep mask vs fa2_dropout_model.py on the valid entries (None if no model)."""
    try:
        model_keep = oracle.model_keep_fn(s["rng_seed"], s["rng_offset"],
                                          s["hkv"] * s["group_query_ratio"], s["p_dropout"])
    except ImportError:
        return None
    bad = 0
    for b, nq, nk in units:
        valid = np.ones((nq, nk), bool)
        if s["is_causal"]:
            valid = np.arange(nk)[None, :] <= np.arange(nq)[:, None] + (nk - nq)
        for h in range(s["hkv"] * s["group_query_ratio"]):
            rows, cols = np.arange(nq), np.arange(nk)
            bad += int(np.sum((keep_fn(b, h, rows, cols) != model_keep(b, h, rows, cols)) & valid))
    return bad


def run_case(s, root, source_tail):
    case, keys, _ = make_cases.build(s)
    p_drop = float(s["p_dropout"])
    debug = p_drop > 0
    start = reset_generator(SEED, OFFSET)
    if s["packing"]:
        out, lse, pair, keep = varlen_forward(s, case, debug)
        cu_q, cu_k = case["cu_seqlens_q"][0], case["cu_seqlens_k"][0]
        units = [(i, cu_q[i + 1] - cu_q[i], cu_k[i + 1] - cu_k[i]) for i in range(len(cu_q) - 1)]
        keep_fn = (lambda b, h, rows, cols: keep[b][h][np.ix_(rows, cols)]) if debug else None
        api = "aten._flash_attention_forward"
    else:
        out, lse, pair, keep = padded_forward(s, case, debug)
        length = s["seq_lens"][0][0]
        units = [(b, length, length) for b in range(s["batch"])]
        keep_fn = (lambda b, h, rows, cols: keep[b, h][np.ix_(rows, cols)]) if debug else None
        api = "aten._scaled_dot_product_flash_attention"
    try:
        advanced = int(generator().get_offset()) - start if start is not None else None
    except Exception:
        advanced = None
    if debug:
        s["rng_seed"], s["rng_offset"] = pair
        case["rng_seed"], case["rng_offset"] = pair
        print("  rng: torch reports [%d, %d]; generator was at offset %s and advanced by %s "
              "(expected %d)" % (pair[0], pair[1], start, advanced, len(units) * s["hkv"] *
                                 s["group_query_ratio"] * 32))
        bad = model_mismatches(s, case, keep_fn, units)
        print("  dropout mask: torch vs fa2_dropout_model.py mismatches on valid entries: %s"
              % ("model not found" if bad is None else bad))

    if s["backward"]:
        reset_generator(SEED, OFFSET)
        out_ag, dqkv = autograd_backward(s, case)
        replay = max_diff(out_ag, out)
        print("  autograd forward vs %s: max diff %.3g (0 means the same mask)" % (api, replay))
        if debug and replay != 0.0:
            print("  SKIP: cannot tie the autograd dropout mask to the reported rng state")
            return None
        api += " + autograd F.scaled_dot_product_attention(SDPBackend.FLASH_ATTENTION)"

    ref = oracle.compute(dict(case, backward=s["backward"]), keep_fn=keep_fn)[0]
    # FlashAttention writes lse = +inf for a row without any valid key; the SPEC says -inf
    no_key = np.isneginf(lse_rows(case, ref["lse"]))
    torch_inf = int(np.sum(np.isposinf(lse_rows(case, lse)) & no_key))
    lse = np.where(np.isneginf(ref["lse"]), -np.inf, lse)
    print("  vs oracle: out %.3g  lse %.3g%s%s" % (
        max_diff(out, ref["out"]), max_diff(lse, ref["lse"]),
        "  dqkv %.3g (|dqkv| max %.3g)" % (max_diff(dqkv, ref["dqkv"]), np.abs(ref["dqkv"]).max())
        if s["backward"] else "",
        "  (%d rows without key: torch lse +inf -> -inf)" % int(no_key.sum()) if no_key.any() else ""))
    if no_key.any() and torch_inf != int(no_key.sum()):
        print("  note: torch lse on rows without key was not all +inf")

    source = "pytorch %s flash backend (%s on %s%s)" % (
        torch.__version__, api, torch.cuda.get_device_name(), source_tail(s, no_key.any()))
    arrays = {"qkv": [case["qkv"][0]], "out": [out.astype(np.float32)],
              "lse": [lse.astype(np.float32)], "rng_state": [oracle.rng_state_of(case)]}
    if s["packing"]:
        arrays["cu_seqlens_q"] = [case["cu_seqlens_q"][0]]
        arrays["cu_seqlens_k"] = [case["cu_seqlens_k"][0]]
    if s["return_softmax"]:
        arrays["softmax"] = [ref["softmax"].astype(np.float32)]
    if s["backward"]:
        arrays["dout"] = [case["dout"][0]]
        arrays["dqkv"] = [dqkv.astype(np.float32)]
    return case_io.write_case(os.path.join(root, s["name"]), make_cases.case_config(s, keys, source),
                              arrays, make_cases.case_comment(s, "torch_cases.py"))


def source_tail(s, had_empty_rows):
    parts = []
    if s["p_dropout"] > 0:
        parts.append("rng_state = torch's philox [seed, offset]")
    else:
        parts.append("p = 0: rng_state = the generator state passed, per SPEC")
    if s["return_softmax"]:
        parts.append("softmax values = numpy float64 oracle, dropped signs = torch debug_attn_mask")
    if had_empty_rows:
        parts.append("lse of rows without key: torch +inf written as -inf per SPEC")
    return "; " + "; ".join(parts)


def main():
    global torch
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder for the cases; also writes <out>.tar.gz")
    parser.add_argument("--filter", default="", help="only cases whose name contains this")
    args = parser.parse_args()
    try:
        import torch as torch_module
    except ImportError:
        print("torch is not installed: nothing to do")
        return 2
    torch = torch_module
    if not torch.cuda.is_available():
        print("no CUDA device: nothing to do")
        return 2
    print("torch %s, %s" % (torch.__version__, torch.cuda.get_device_name()))
    os.makedirs(args.out, exist_ok=True)
    written, failed = [], []
    for s in CASES:
        if args.filter not in s["name"]:
            continue
        print("== %s: %s" % (s["name"], s["desc"]))
        try:
            folder = run_case(dict(s), args.out, source_tail)
            (written if folder else failed).append(s["name"])
        except Exception:
            traceback.print_exc()
            print("  SKIP %s (see the error above)" % s["name"])
            failed.append(s["name"])
    tar_path = args.out.rstrip("/") + ".tar.gz"
    with tarfile.open(tar_path, "w:gz") as tar:
        tar.add(args.out, arcname=os.path.basename(args.out.rstrip("/")))
    print("%d cases written, %d skipped %s -> %s" % (len(written), len(failed), failed, tar_path))
    return 0 if written else 1


if __name__ == "__main__":
    sys.exit(main())
