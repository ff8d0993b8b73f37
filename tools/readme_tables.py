#!/usr/bin/env python3
"""readme_tables.py: the README's CUDA benchmark tables from one GPU run's JSON (tools/gpu_check.sh).

Reads, from one folder, pattn-bench's ours.json (forward), ours_bwd.json (forward + backward,
and the backward alone), ours_drop.json (dropout 0.1, with the backward), ours_gpu_time_fwd.json
and ours_gpu_time.json (--hide-launch), dims_ours_D.json, dims_mma_D.json and dims_drop_D.json
(the other head dims), and bench_torch.py's torch.json, torch_bwd.json, torch_drop.json,
torch_drop_bwd.json, torch_dims.json and torch_dims_drop.json; prints five Markdown tables: the
forward grid and the backward grid (ours / flash / cuDNN TFLOP/s by sequence length, with the
ratio ranges for L >= 2K), the dropout table (each one's TFLOP/s at p = 0.1 and the share of
its own p = 0 speed it keeps), the GPU-time table (ours end to end and with the launch hidden,
beside FlashAttention-4's figures on this card) and the other head dims (ours, the mma.sync
kernel and the peers; ours and cuDNN with dropout).

  python3 tools/readme_tables.py bench/2026-12-02_h200
"""
import argparse
import glob
import json
import os

PEERS = ("cuda", "torch_flash", "torch_cudnn")


def load(folder, name):
    path = os.path.join(folder, name)
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return json.load(f)["rows"]


def load_all(folder, pattern):
    """The rows of every JSON in folder whose name matches pattern (one file per head dim)."""
    rows = []
    for path in sorted(glob.glob(os.path.join(folder, pattern))):
        with open(path) as f:
            rows += json.load(f)["rows"]
    return rows


def key(r):
    return (r["dtype"], int(r["causal"]), int(r["head_dim"]), int(r["seqlen"]))


def forward_of(r):
    """Our forward TFLOP/s: the forward run's, or for a row with the backward (its flops count
    the forward + backward as 3.5 forwards) the total time minus the backward's."""
    if r.get("bwd_time_ms"):
        return r["flops"] / 3.5 / ((r["time_ms"] - r["bwd_time_ms"]) * 1e9)
    return r["tflops"]


def row_order(k):
    '''The tables' row order for a key: dtype, causal first, head dim, sequence length.'''
    return (k[0], -k[1]) + tuple(k[2:])


def row_head(dtype, causal, d):
    return f"| {dtype} | {'causal' if causal else 'full'} | {d} |"


def table(ours, peers, value):
    """{(backend, dtype, causal, d, L): TFLOP/s} from our rows (value(row)) and the peers'."""
    t = {}
    for r in ours:
        if r.get("status", "ok") == "ok":
            t[("cuda",) + key(r)] = value(r)
    for r in peers:
        t[(r["backend"],) + key(r)] = r["tflops"]
    return t


def span(xs):
    return "-" if not xs else f"{min(xs):.2f}-{max(xs):.2f}x" if len(xs) > 1 else f"{xs[0]:.2f}x"


def grid(t, title):
    shapes = sorted({k[1:] for k in t if k[0] == "cuda"})
    lengths = sorted({k[3] for k in shapes})
    print(f"{title}\n")
    print("| dtype | mask | d | " + " | ".join(f"{L // 1024}K" for L in lengths) +
          " | vs flash (L >= 2K) | vs cuDNN (L >= 2K) |")
    print("| --- | --- | --- | " + " | ".join("---" for _ in lengths) + " | --- | --- |")
    for dtype, causal, d in sorted({k[:3] for k in shapes}, key=row_order):
        cells, vs_flash, vs_cudnn = [], [], []
        for L in lengths:
            v = [t.get((b, dtype, causal, d, L)) for b in PEERS]
            cells.append(" / ".join("-" if x is None else f"{x:.0f}" for x in v))
            if L >= 2048 and v[0]:
                if v[1]:
                    vs_flash.append(v[0] / v[1])
                if v[2]:
                    vs_cudnn.append(v[0] / v[2])
        print(f"{row_head(dtype, causal, d)} " + " | ".join(cells) +
              f" | {span(vs_flash)} | {span(vs_cudnn)} |")
    print()


def dropout(folder):
    drop = load(folder, "ours_drop.json")
    if not drop:
        return
    fwd0 = table(load(folder, "ours.json"), load(folder, "torch.json"), forward_of)
    bwd0 = table(load(folder, "ours_bwd.json"), load(folder, "torch_bwd.json"),
                 lambda r: r["bwd_tflops"])
    fwd1 = table(drop, load(folder, "torch_drop.json"), forward_of)
    bwd1 = table(drop, load(folder, "torch_drop_bwd.json"), lambda r: r["bwd_tflops"])
    print("Dropout p = 0.1 (ours / flash / cuDNN, and the share of its own p = 0 speed each keeps):\n")
    print("| dtype | mask | d | L | forward p=0.1 | kept of p=0 | backward p=0.1 | kept of p=0 |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    shapes = sorted({key(r) for r in drop}, key=row_order)
    for s in shapes:
        cols = []
        for p1, p0 in ((fwd1, fwd0), (bwd1, bwd0)):
            v1 = [p1.get((b,) + s) for b in PEERS]
            kept = [a / b if a and b else None for a, b in zip(v1, (p0.get((b,) + s) for b in PEERS))]
            cols.append(" / ".join("-" if x is None else f"{x:.0f}" for x in v1))
            cols.append(" / ".join("-" if x is None else f"{x:.2f}" for x in kept))
        dtype, causal, d, L = s
        print(f"{row_head(dtype, causal, d)} {L // 1024}K | " + " | ".join(cols) + " |")
    print()


# FlashAttention-4 (CuTe DSL) on the H200, bf16, 2026-12-01, GPU time with the launch hidden:
# another run than ours (issues 7 and 10 quote it), {(pass, causal, d, L): TFLOP/s}.
FA4_H200 = {
    ("fwd", 0, 128, 2048): 668, ("fwd", 0, 128, 8192): 748, ("fwd", 1, 128, 2048): 538,
    ("fwd", 1, 128, 8192): 696, ("fwd", 0, 64, 8192): 586, ("fwd", 1, 64, 8192): 545,
    ("bwd", 0, 128, 2048): 587, ("bwd", 0, 128, 8192): 674, ("bwd", 1, 128, 2048): 481,
    ("bwd", 1, 128, 8192): 626,
}


def gpu_time(folder):
    """Ours end to end beside ours in GPU time (--hide-launch), and FlashAttention-4's figure."""
    fwd_gpu = {key(r): forward_of(r) for r in load(folder, "ours_gpu_time_fwd.json")}
    bwd_gpu = {key(r): r["bwd_tflops"] for r in load(folder, "ours_gpu_time.json")}
    if not fwd_gpu and not bwd_gpu:
        return
    fwd = {key(r): forward_of(r) for r in load(folder, "ours.json")}
    bwd = {key(r): r["bwd_tflops"] for r in load(folder, "ours_bwd.json")}
    print("GPU time (ours end to end / ours with the launch hidden / FlashAttention-4, another "
          "run, bf16 only):\n")
    print("| dtype | mask | d | L | forward | backward |")
    print("| --- | --- | --- | --- | --- | --- |")
    shapes = sorted(set(fwd_gpu) | set(bwd_gpu), key=row_order)
    for s in shapes:
        dtype, causal, d, L = s
        cols = []
        for name, e2e, gpu in (("fwd", fwd, fwd_gpu), ("bwd", bwd, bwd_gpu)):
            fa4 = FA4_H200.get((name, causal, d, L)) if dtype == "bf16" else None
            cols.append(" / ".join("-" if x is None else f"{x:.0f}"
                                   for x in (e2e.get(s), gpu.get(s), fa4)))
        print(f"{row_head(dtype, causal, d)} {L // 1024}K | " + " | ".join(cols) + " |")
    print()


def head_dims(folder):
    """The other head dims (step dims of tools/gpu_check.sh): ours, the mma.sync kernel and the
    peers at p = 0, then ours and cuDNN at p = 0.1 with the share of p = 0 each keeps."""
    ours = load_all(folder, "dims_ours_*.json")
    if not ours:
        return
    t0 = table(ours, load(folder, "torch_dims.json"), forward_of)
    mma = {key(r): r["tflops"] for r in load_all(folder, "dims_mma_*.json")}
    t1 = table(load_all(folder, "dims_drop_*.json"), load(folder, "torch_dims_drop.json"),
               forward_of)
    print("Other head dims (ours / mma.sync / flash / cuDNN at p = 0; ours / cuDNN at p = 0.1 "
          "with the share of p = 0 kept):\n")
    print("| dtype | mask | d | L | p = 0 | p = 0.1 | kept of p=0 | vs cuDNN, p = 0 |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for s in sorted({key(r) for r in ours}, key=row_order):
        dtype, causal, d, L = s
        p0 = [t0.get((b,) + s) for b in PEERS]
        p1 = [t1.get((b,) + s) for b in ("cuda", "torch_cudnn")]
        kept = [a / b if a and b else None for a, b in zip(p1, (p0[0], p0[2]))]
        cells = [
            " / ".join("-" if x is None else f"{x:.0f}" for x in (p0[0], mma.get(s), p0[1], p0[2])),
            " / ".join("-" if x is None else f"{x:.0f}" for x in p1),
            " / ".join("-" if x is None else f"{x:.2f}" for x in kept),
            "-" if not (p0[0] and p0[2]) else f"{p0[0] / p0[2]:.2f}x",
        ]
        print(f"{row_head(dtype, causal, d)} {L // 1024}K | " + " | ".join(cells) + " |")
    print()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder")
    args = ap.parse_args()
    grid(table(load(args.folder, "ours.json"), load(args.folder, "torch.json"), forward_of),
         "Forward (ours / flash / cuDNN):")
    grid(table(load(args.folder, "ours_bwd.json"), load(args.folder, "torch_bwd.json"),
               lambda r: r["bwd_tflops"]), "Backward alone (ours / flash / cuDNN):")
    dropout(args.folder)
    gpu_time(args.folder)
    head_dims(args.folder)


if __name__ == "__main__":
    main()
