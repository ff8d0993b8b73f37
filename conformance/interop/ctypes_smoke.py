#!/usr/bin/env python3
"""ctypes_smoke.py: the public C API used from Python through ctypes, without numpy.

Loads libparallel_attn.so through the Python package's ctypes mirror of the header
(python/parallel_attn/_capi.py, loaded by path: it needs only the standard library, and its
load() checks the mirror against the library), runs a small causal GQA fp32 forward with
dropout on host memory and compares it with attention computed here in plain Python (float64,
mask from the SPEC formulas, dropout kept where the library's own sign-encoded softmax says so --
the bits themselves are pinned elsewhere by the FlashAttention-2 vectors), then checks an
invalid argument's status and message and that the outputs were left untouched.

  python3 ctypes_smoke.py build/libparallel_attn.so
"""
import ctypes as C
import importlib.util
import math
import os
import random
import sys

CAPI_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python",
                         "parallel_attn", "_capi.py")


def load_capi():
    spec = importlib.util.spec_from_file_location("pattn_capi", CAPI_PATH)
    capi = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(capi)
    return capi


def fail(msg):
    print("ctypes_smoke: FAIL:", msg)
    sys.exit(1)


def main():
    capi = load_capi()
    lib = capi.load(sys.argv[1])
    B, L, Hkv, r, D, p = 2, 7, 1, 2, 8, 0.3
    Hq = r * Hkv
    cols = (Hq + 2 * Hkv) * D
    rng = random.Random()
    qkv_list = [rng.uniform(-1, 1) for _ in range(B * L * cols)]
    seq_lens = (C.c_int64 * 1)(L)
    groups = (C.c_int64 * 1)(0)
    prm = capi.Params(dtype=0, rows=B * L, cols=cols, head_dim=D, group_query_ratio=r,
                      num_strategies=1, num_pipelines=1, seq_lens=seq_lens, cp_groups=groups,
                      p_dropout=p, return_softmax=1)
    qkv = (C.c_float * len(qkv_list))(*qkv_list)
    out = (C.c_float * (B * L * Hq * D))(*([float("nan")] * (B * L * Hq * D)))
    lse = (C.c_float * (B * Hq * L))()
    sm = (C.c_float * (B * Hq * L * L))()
    state = (C.c_int64 * 2)()
    gen = capi.Generator(1234, 64)
    res = lib.pattnForward(None, C.byref(prm), C.byref(gen), qkv, out, lse, state, sm)
    if res != 0:
        fail("pattnForward returned %d: %s" % (res, lib.pattnGetLastError().decode()))
    if list(state) != [1234, 64] or gen.offset != 64 + B * Hq * 32:
        fail("rng_state %s / generator offset %d" % (list(state), gen.offset))
    scale = 1 / math.sqrt(D)
    worst = 0.0
    for b in range(B):
        for h in range(Hq):
            g = h // r
            for i in range(L):
                row = qkv_list[(b * L + i) * cols:(b * L + i + 1) * cols]
                q = row[h * D:(h + 1) * D]
                s = []
                for j in range(i + 1):  # causal, Nq == Nk
                    kr = qkv_list[(b * L + j) * cols:(b * L + j + 1) * cols]
                    k = kr[(Hq + g) * D:(Hq + g + 1) * D]
                    s.append(scale * sum(x * y for x, y in zip(q, k)))
                mx = max(s)
                tot = sum(math.exp(x - mx) for x in s)
                want_lse = mx + math.log(tot)
                worst = max(worst, abs(lse[(b * Hq + h) * L + i] - want_lse))
                for d in range(D):
                    acc = 0.0
                    for j in range(i + 1):
                        sv = sm[((b * Hq + h) * L + i) * L + j]
                        if math.copysign(1.0, sv) < 0:
                            continue  # dropped
                        prob = math.exp(s[j] - want_lse)
                        if abs(abs(sv) - prob) > 1e-5:
                            fail("softmax[%d,%d,%d,%d] = %g, expected %g" % (b, h, i, j, sv, prob))
                        vr = qkv_list[(b * L + j) * cols:(b * L + j + 1) * cols]
                        acc += prob / (1 - p) * vr[(Hq + Hkv + g) * D + d]
                    worst = max(worst, abs(out[((b * L + i) * Hq + h) * D + d] - acc))
    if not worst < 1e-5:
        fail("max error %g against the Python attention" % worst)
    # An invalid argument: a status, a message naming it, outputs untouched.
    before = bytes(out)
    prm.head_dim = 12
    res = lib.pattnForward(None, C.byref(prm), C.byref(gen), qkv, out, lse, state, sm)
    msg = lib.pattnGetLastError().decode()
    if res != 1 or "head_dim = 12" not in msg or bytes(out) != before:
        fail("bad head_dim: status %d, message %r" % (res, msg))
    print("ctypes_smoke: max error %.2e against plain Python; bad input -> %s: %s" %
          (worst, lib.pattnGetErrorString(res).decode(), msg))
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
