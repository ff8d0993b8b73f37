#!/usr/bin/env python3
"""plot_bench.py: the README's benchmark figure from one GPU run's JSON (tools/gpu_check.sh).

Reads pattn-bench's ours.json / ours_bwd.json and bench_torch.py's torch.json / torch_bwd.json
from one folder and draws TFLOP/s against sequence length for ours, PyTorch flash and cuDNN:
forward and backward, d 64 and 128, causal and full, one dtype. Needs matplotlib.

  python3 tools/plot_bench.py bench/2026-12-01_h200 --out bench/2026-12-01_h200/bf16.png
"""
import argparse
import json
import os

PEERS = (("cuda", "parallel_attn", "tab:red"), ("torch_flash", "PyTorch flash", "tab:blue"),
         ("torch_cudnn", "cuDNN", "tab:green"))


def rows(path, key):
    """(backend, dtype, causal, head_dim, seqlen) -> TFLOP/s from one JSON file."""
    with open(path) as f:
        doc = json.load(f)
    table = {}
    for r in doc["rows"]:
        value = r.get(key) if r["backend"] == "cuda" else r.get("tflops")
        if value is not None:
            table[(r["backend"], r["dtype"], int(r["causal"]), int(r["head_dim"]),
                   int(r["seqlen"]))] = value
    return doc, table


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder")
    ap.add_argument("--dtype", default="bf16")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    passes = (("forward", "ours.json", "torch.json", "tflops"),
              ("backward", "ours_bwd.json", "torch_bwd.json", "bwd_tflops"))
    fig, axes = plt.subplots(2, 4, figsize=(16, 7), sharey="row")
    card = stamp = ""
    for i, (name, ours_file, peers_file, key) in enumerate(passes):
        ours_doc, table = rows(os.path.join(args.folder, ours_file), key)
        table.update(rows(os.path.join(args.folder, peers_file), key)[1])
        card, stamp = ours_doc.get("card", ""), ours_doc.get("timestamp", "")[:10]
        panels = [(c, d) for c in (0, 1) for d in (64, 128)]
        for j, (causal, d) in enumerate(panels):
            ax = axes[i][j]
            for backend, label, color in PEERS:
                pts = sorted((L, v) for (b, t, c, hd, L), v in table.items()
                             if b == backend and t == args.dtype and c == causal and hd == d)
                if pts:
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", color=color,
                            label=label)
            ax.set_xscale("log", base=2)
            ax.set_title("%s %s d=%d" % (name, "causal" if causal else "full", d))
            ax.set_xlabel("sequence length (16K tokens per batch)")
            ax.grid(alpha=0.3)
            if j == 0:
                ax.set_ylabel("TFLOP/s (FlashAttention's convention)")
    axes[0][0].legend(loc="lower right")
    fig.suptitle("parallel_attn vs PyTorch SDPA flash and cuDNN, %s, %s, %s" %
                 (args.dtype, card, stamp))
    fig.tight_layout()
    fig.savefig(args.out, dpi=80)
    print("plot_bench.py: wrote", args.out)


if __name__ == "__main__":
    main()
