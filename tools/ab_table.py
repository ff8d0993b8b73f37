#!/usr/bin/env python3
"""ab_table.py: the table of an A/B run (gpu_check.sh's ab step): pattn-bench JSON files named
VARIANT_mMODE_rROUND.json in one folder, each row's best TFLOP/s over the rounds per variant (the
backward's where the mode timed it, else the forward's), and each variant's ratio to the first.

Usage: ab_table.py FOLDER [--order V1,V2,...] (default order: the variants' names sorted, "tree"
last). Prints a Markdown table; exit 1 when a variant's row has no number (a run failed)."""
import argparse
import collections
import glob
import json
import os
import re
import sys

NAME = re.compile(r"^(?P<variant>.+)_m(?P<mode>\d+)_r(?P<round>\d+)\.json$")


def load(folder):
    """{(mode, dtype, head_dim, mask, seqlen, dropout): {variant: [TFLOP/s per round]}}"""
    runs = collections.defaultdict(lambda: collections.defaultdict(list))
    for path in sorted(glob.glob(os.path.join(folder, "*.json"))):
        m = NAME.match(os.path.basename(path))
        if not m:
            continue
        with open(path) as f:
            rows = json.load(f).get("rows", [])
        for row in rows:
            key = (int(m["mode"]), row["dtype"], row["head_dim"],
                   "causal" if row["causal"] else "full", row["seqlen"], row["dropout"])
            value = row.get("bwd_tflops") if row.get("bwd_tflops") is not None else row.get("tflops")
            runs[key][m["variant"]].append(value)
    return runs


def table(runs, order):
    lines = ["| mode | dtype | d | mask | L | p | " + " | ".join(order) + " |",
             "| --- " * (6 + len(order)) + "|"]
    missing = False
    for key in sorted(runs):
        tops = [max((x for x in runs[key].get(v, []) if x is not None), default=None) for v in order]
        cells = []
        for i, top in enumerate(tops):
            if top is None:
                cells.append("-")
                missing = True
                continue
            ratio = f" ({top / tops[0]:.2f}x)" if i > 0 and tops[0] is not None else ""
            cells.append(f"{top:.0f}{ratio}")
        mode, dtype, d, mask, seqlen, p = key
        lines.append(f"| {mode} | {dtype} | {d} | {mask} | {seqlen} | {p:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines), missing


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("folder")
    ap.add_argument("--order", default="")
    args = ap.parse_args()
    runs = load(args.folder)
    variants = sorted({v for row in runs.values() for v in row}, key=lambda v: (v == "tree", v))
    order = [v for v in args.order.split(",") if v] or variants
    text, missing = table(runs, order)
    print(text)
    return 1 if missing or not runs else 0


if __name__ == "__main__":
    sys.exit(main())
