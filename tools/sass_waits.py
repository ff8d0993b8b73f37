#!/usr/bin/env python3
"""sass_waits.py: where ptxas put the softmax of fwd_tma's main loop, from the SASS of one kernel
(cuobjdump -sass -fun NAME lib.so, run where the CUDA toolkit has cuobjdump).

The loop's trip issues S(j) and P(j-1) V, waits for S(j) (WARPGROUP.DEPBAR.LE gsb0, 0x1), runs
the softmax of S(j) while P(j-1) V is on the tensor cores, then waits for it (DEPBAR.LE gsb0,
0x0). ptxas moves a wgmma wait to the top of the block that holds it, so what shares that block
with the wait runs after the product instead of under it (cuda/PERF.md, 2026-12-04: 1-9% of the
forward). This counts, in each trip from the first wait to the next turn (BAR.SYNC), the
exponentials (MUFU.EX2) and Philox multiplies (IMAD.WIDE.U32 by one of its two constants as an
immediate) before and after the second wait. The count goes by address, not control flow: a
path laid out after the second wait counts as after it even if it runs before (a false failure,
never a false pass), and work before the first wait is not counted. The exponentials' placement
is checked; the Philox multiplies' is printed only: since the dropout's flags are applied to the
packed P (36bb3d6), ptxas sinks the rounds after the wait, to their use, and that measured
faster than both the bits applied before the wait and the rounds forced there (PERF.md).

Usage: sass_waits.py FILE.sass [--min-share S] [--expect-philox]: prints the counts; exit 1 when
a trip has no exponential, or (--expect-philox, the dropout kernels) no Philox multiply, or when
the share of its exponentials before the second wait is below S (default 0.9); 2 when the file
has no such loop.
"""
import argparse
import re
import sys

PHILOX = re.compile(r"IMAD\.WIDE\.U32 .*(-0x2daee0ad|-0x326172a9|0xd2511f53|0xcd9e8d57)")


def instructions(path):
    """The instructions of a cuobjdump listing, without addresses and encodings."""
    pat = re.compile(r"^\s+/\*[0-9a-f]{4,6}\*/\s+(.*?)\s*;")
    with open(path) as f:
        return [m.group(1) for m in map(pat.match, f) if m]


def trips(ins):
    """Each (first wait, second wait, next turn) index triple of the loop."""
    out = []
    for i, s in enumerate(ins):
        if "WARPGROUP.DEPBAR.LE gsb0, 0x1" not in s:
            continue
        j = next((k for k in range(i + 1, len(ins)) if "WARPGROUP.DEPBAR.LE gsb0, 0x0" in ins[k]),
                 None)
        if j is None:
            continue
        t = next((k for k in range(j + 1, len(ins)) if "BAR.SYNC" in ins[k]), len(ins))
        out.append((i, j, t))
    return out


def count(ins, lo, hi):
    ex2 = sum(1 for s in ins[lo:hi] if "MUFU.EX2" in s)
    philox = sum(1 for s in ins[lo:hi] if PHILOX.search(s))
    return ex2, philox


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sass")
    ap.add_argument("--min-share", type=float, default=0.9)
    ap.add_argument("--expect-philox", action="store_true")
    args = ap.parse_args()
    ins = instructions(args.sass)
    found = trips(ins)
    if not found:
        print(f"{args.sass}: no loop with both wgmma waits")
        return 2
    worst, missing = 1.0, []
    for i, j, t in found:
        (e_in, p_in), (e_out, p_out) = count(ins, i, j), count(ins, j, t)
        if e_in + e_out:
            worst = min(worst, e_in / (e_in + e_out))
        if e_in + e_out == 0:
            missing.append("exponentials")
        if args.expect_philox and p_in + p_out == 0:
            missing.append("Philox multiplies")
        print(f"{args.sass}: trip at instruction {i}: exponentials {e_in} before the wait for "
              f"P V, {e_out} after; Philox multiplies {p_in} before, {p_out} after")
    if missing:
        print(f"{args.sass}: FAIL: no {' and no '.join(sorted(set(missing)))} in a trip (the "
              "kernel or its SASS is not what this check reads)")
        return 1
    ok = worst >= args.min_share
    print(f"{args.sass}: {'ok' if ok else 'FAIL'}: {worst:.2f} of the exponentials before the "
          f"wait (at least {args.min_share} expected)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
