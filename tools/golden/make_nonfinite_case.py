#!/usr/bin/env python3
"""Writes data/nonfinite_nan_inf_bf16: a NaN and an infinity in qkv (SPEC section 1).

SPEC: a NaN or an infinity in qkv propagates into the outputs that depend on it, as IEEE
arithmetic does and as FlashAttention does. The expected arrays are oracle.attention()'s
float64 results on these inputs -- plain IEEE arithmetic, NaN and infinities included -- for one
rank of 24 tokens, two query heads (r = 1, Hkv = 2), head_dim 16, bf16, full attention (every
query sees every key, so which entries depend on the poisoned ones does not depend on any
kernel's tiling), with the backward:
  - Q of row 3, head 0, holds a NaN: that row's out and lse are NaN; in the backward its dQ, and
    through its dS every dK and dV of KV head 0, are NaN.
  - K of row 5, KV head 1, holds +inf in column 2: the logit of key 5 is +inf for queries whose
    column 2 is positive (exp(inf - inf) = NaN: the row is NaN), NaN where it is 0, and -inf
    where it is negative (key 5 then has weight 0 and the row stays finite; only column 2 of
    its dQ is NaN, 0 * inf).
  python3 tools/golden/make_nonfinite_case.py [--out DATA_DIR]
"""
import argparse
import os
import shutil
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import oracle  # noqa: E402
from case_io import round_bf16  # noqa: E402

NAME = "nonfinite_nan_inf_bf16"
L, D, HQ, HKV = 24, 16, 2, 2


def inputs():
    rng = np.random.default_rng(2026)
    qkv = round_bf16(rng.standard_normal((L, (HQ + 2 * HKV) * D)))
    dout = round_bf16(0.5 * rng.standard_normal((L, HQ * D)))
    qkv[:, D + 2] = np.where(np.arange(L) % 3 == 0, 0.75, -0.75)  # column 2 of query head 1
    qkv[7, D + 2] = 0.0                  # 0 * inf = NaN for query row 7
    qkv[3, 5] = np.nan                   # Q of row 3, head 0
    qkv[5, (HQ + 1) * D + 2] = np.inf    # K of row 5, KV head 1
    return qkv.astype(np.float32), dout.astype(np.float32)


def expected(qkv, dout):
    x, do = qkv.astype(np.float64), dout.astype(np.float64)
    q = x[:, :HQ * D].reshape(L, HQ, D)
    k = x[:, HQ * D:(HQ + HKV) * D].reshape(L, HKV, D)
    v = x[:, (HQ + HKV) * D:].reshape(L, HKV, D)
    with np.errstate(invalid="ignore"):
        a = oracle.attention(q, k, v, False, 1.0 / np.sqrt(D), dout=do.reshape(L, HQ, D))
    dqkv = np.concatenate([a["dq"].reshape(L, -1), a["dk"].reshape(L, -1),
                           a["dv"].reshape(L, -1)], axis=1)
    return {"out": a["out"].reshape(L, HQ * D), "lse": a["lse"][None], "dqkv": dqkv,
            "rng_state": np.zeros(2, np.int64)}


CASE_TXT = """\
# {name}: a NaN in Q and +inf in K propagate (SPEC section 1), forward and backward
# written by tools/golden/make_nonfinite_case.py; regenerate, do not edit
dtype = bf16
head_dim = {d}
group_query_ratio = 1
seq_lens = {l}
cp_groups = 0
is_causal = 0
backward = 1
source = float64 IEEE attention (tools/golden/oracle.py attention()) on inputs with a NaN and +inf
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.dirname(HERE)),
                                                      "data"))
    folder = os.path.join(parser.parse_args().out, NAME)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    qkv, dout = inputs()
    with open(os.path.join(folder, "case.txt"), "w") as f:
        f.write(CASE_TXT.format(name=NAME, d=D, l=L))
    np.save(os.path.join(folder, "qkv.0.npy"), qkv)
    np.save(os.path.join(folder, "dout.0.npy"), dout)
    for name, array in expected(qkv, dout).items():
        np.save(os.path.join(folder, name + ".0.npy"),
                array if name == "rng_state" else array.astype(np.float64))
    out = expected(qkv, dout)
    print("%s: out %d NaN of %d, lse %d NaN, dqkv %d NaN" %
          (folder, np.isnan(out["out"]).sum(), out["out"].size, np.isnan(out["lse"]).sum(),
           np.isnan(out["dqkv"]).sum()))


if __name__ == "__main__":
    main()
