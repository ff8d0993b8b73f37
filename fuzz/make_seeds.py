#!/usr/bin/env python3
"""Seed corpora of the fuzz targets, made from files the tree already has (no copies kept).

  make_seeds.py OUT     writes OUT/npy, OUT/case_parse, OUT/case_folder and OUT/params:
    npy         the .npy fixtures of conformance/tests and the smallest arrays of data/
    case_parse  every data/*/case.txt
    case_folder the smallest data/ cases packed as fuzz_case_folder.c's archives
    params      fixed pseudo-random byte strings (fuzz_params.c decodes any bytes)
Plus the hand-written seeds of fuzz/seeds/<target>/ (inputs the tree has no file for).
"""
import os
import random
import shutil
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DATA = os.path.join(ROOT, "data")
# The order of fuzz_case_folder.c's NAMES.
NAMES = ["case.txt", "qkv.0.npy", "qkv.1.npy", "qkv.2.npy", "cu_seqlens_q.0.npy",
         "cu_seqlens_k.0.npy", "cu_seqlens_q.1.npy", "cu_seqlens_k.1.npy", "cu_seqlens_q.2.npy",
         "cu_seqlens_k.2.npy", "dout.0.npy", "dout.1.npy", "dout.2.npy", "out.0.npy", "lse.0.npy",
         "rng_state.0.npy", "softmax.0.npy", "dqkv.0.npy", "out.1.npy", "lse.1.npy",
         "softmax.1.npy", "dqkv.1.npy", "out.2.npy", "lse.2.npy"]


def cases():
    for name in sorted(os.listdir(DATA)):
        folder = os.path.join(DATA, name)
        if os.path.isfile(os.path.join(folder, "case.txt")):
            yield name, folder


def main(out):
    for target in ("npy", "case_parse", "case_folder", "params"):
        os.makedirs(os.path.join(out, target), exist_ok=True)
        hand = os.path.join(HERE, "seeds", target)
        for f in sorted(os.listdir(hand)) if os.path.isdir(hand) else []:
            shutil.copy(os.path.join(hand, f), os.path.join(out, target, f))
    fixtures = os.path.join(ROOT, "conformance", "tests", "fixtures")
    for f in sorted(os.listdir(fixtures)):
        if f.endswith(".npy"):
            shutil.copy(os.path.join(fixtures, f), os.path.join(out, "npy", f))
    small = []
    for name, folder in cases():
        shutil.copy(os.path.join(folder, "case.txt"), os.path.join(out, "case_parse", name))
        for f in os.listdir(folder):
            path = os.path.join(folder, f)
            if f.endswith(".npy") and os.path.getsize(path) <= 2048:
                shutil.copy(path, os.path.join(out, "npy", name + "." + f))
        size = sum(os.path.getsize(os.path.join(folder, f)) for f in NAMES
                   if os.path.exists(os.path.join(folder, f)))
        small.append((size, name, folder))
    for size, name, folder in sorted(small)[:12]:
        archive = b""
        for i, f in enumerate(NAMES):
            path = os.path.join(folder, f)
            if os.path.exists(path):
                data = open(path, "rb").read()
                archive += bytes([i]) + struct.pack("<I", len(data)) + data
        open(os.path.join(out, "case_folder", name), "wb").write(archive)
    rng = random.Random(13)
    for i in range(24):
        blob = bytes(rng.randrange(256) if rng.random() < 0.3 else rng.randrange(4)
                     for _ in range(96))
        open(os.path.join(out, "params", "seed%02d" % i), "wb").write(blob)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
