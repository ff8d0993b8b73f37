#!/usr/bin/env python3
"""Write conformance/tests/vectors/dropout_vectors.txt: fixed FlashAttention-2 dropout vectors.

The values come from fa2_dropout_model.py (beside this file: the numpy model of FA2's mask,
checked against PyTorch's flash kernel); a C unit test compares core/philox.h against them.  Keep
bits come from the model's keep_mask; the raw random bytes are recomputed here from its
philox7 and the byte mapping in its header, and every byte is checked against keep_mask.
Reruns are byte-identical.

  python3 tools/golden/make_dropout_vectors.py [--out FILE]
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fa2_dropout_model as model  # noqa: E402
REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DEFAULT_OUT = os.path.join(REPO, "conformance", "tests", "vectors", "dropout_vectors.txt")

PROBS = (0.1, 0.17, 0.5, 0.9)
SEEDS = (0, 1, 1234, 0xFFFFFFFF, 2 ** 32, 2 ** 32 + 17, 0x123456789ABCDEF0, 2 ** 63 - 1,
         0xFEDCBA9876543210)
OFFSETS = (0, 12, 32, 4096 + 32 * 5, 2 ** 32 - 32, 2 ** 32, 2 ** 32 + 7 * 32, 0x0000123400005678,
           2 ** 40 + 3)
# rows/cols on both sides of the 16-row x 32-col tile boundaries and the 8x8 lane blocks
ROWS = (0, 1, 7, 8, 15, 16, 17, 31, 32, 47, 48, 63, 64, 99, 100)
COLS = (0, 1, 7, 8, 15, 16, 17, 30, 31, 32, 33, 63, 64, 95, 96, 127, 128, 159, 160, 199, 200)
KEEP_LINES = 2000
BYTE_LINES = 600

HEADER = """\
# FlashAttention-2 dropout vectors, written by tools/golden/make_dropout_vectors.py from
# fa2_dropout_model.py (numpy model of FA2's Philox-7 mask, checked against PyTorch 2.11's
# flash kernel on an H100).  Regenerate; do not edit.
#
# Every data line is whitespace-separated unsigned decimal integers after a tag word:
#   keep SEED OFFSET B H NHEADS I J P KEEP
#   byte SEED OFFSET B H NHEADS I J BYTE
# SEED, OFFSET: the generator state [seed, offset] of the call (unsigned 64-bit; some seeds
#   have bit 63 set, offsets go above 2^32).  B: sample or packed-sequence index, H: query
#   head, NHEADS: query heads (Hq), I, J: global query / key positions in the sequence.
# P: the dropout probability, written as a decimal; KEEP: 1 if element (I, J) is kept.
#   An element is kept when BYTE <= floor((1 - P) * 255); in double precision these
#   thresholds are P=0.1 -> 229, P=0.17 -> 211, P=0.5 -> 127, P=0.9 -> 25.
# BYTE: the element's random byte (0..255), from Philox-4x32-7 with
#   key = (SEED lo32, SEED hi32), counter = (off lo32, off hi32, I / 16, J / 32),
#   off = OFFSET + (B * NHEADS + H) * 32 + (I % 8) * 4 + (J % 8) / 2,
#   byte index ((J % 32) / 16) * 8 + ((J % 16) / 8) * 4 + ((I % 16) / 8) * 2 + J % 2 into the
#   16 output bytes (words x, y, z, w, each little-endian).
"""


def random_byte(seed, offset, b, h, nheads, i, j):
    """The element's Philox byte, from the model's philox7 and the mapping in its header."""
    lane = (i % 8) * 4 + (j % 8) // 2
    index = ((j % 32) // 16) * 8 + ((j % 16) // 8) * 4 + ((i % 16) // 8) * 2 + (j % 2)
    off = offset + (b * nheads + h) * 32 + lane
    counter = [np.array([x], np.uint64) for x in (off & 0xFFFFFFFF, off >> 32, i // 16, j // 32)]
    words = model.philox7(seed, *counter)
    return (int(words[index // 4][0]) >> (8 * (index % 4))) & 0xFF


def keep_bit(seed, offset, b, h, nheads, i, j, p):
    return bool(model.keep_mask(seed, offset, b, h, nheads, [i], [j], p)[0, 0])


def draw_points(rng, count):
    """(seed, offset, b, h, nheads, i, j) tuples: boundary rows/cols and random ones."""
    points = []
    for n in range(count):
        nheads = int(rng.integers(1, 9))
        pick = n % 3
        i = int(rng.choice(ROWS)) if pick != 2 else int(rng.integers(0, 101))
        j = int(rng.choice(COLS)) if pick != 1 else int(rng.integers(0, 201))
        points.append((int(SEEDS[n % len(SEEDS)]), int(OFFSETS[(n // len(SEEDS)) % len(OFFSETS)]),
                       int(rng.integers(0, 4)), int(rng.integers(0, nheads)), nheads, i, j))
    return points


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=DEFAULT_OUT)
    args = parser.parse_args()
    rng = np.random.default_rng(20240901)
    lines = [HEADER.rstrip("\n")]
    kept = {p: 0 for p in PROBS}
    for n, point in enumerate(draw_points(rng, KEEP_LINES)):
        p = PROBS[n % len(PROBS)]
        keep = keep_bit(*point, p)
        threshold = int(np.floor((1.0 - p) * 255.0))
        if keep != (random_byte(*point) <= threshold):
            raise SystemExit("byte and keep_mask disagree at %s p=%s" % (point, p))
        kept[p] += keep
        lines.append("keep %d %d %d %d %d %d %d %s %d" % (point + (repr(p), int(keep))))
    for point in draw_points(rng, BYTE_LINES):
        byte = random_byte(*point)
        for p in PROBS:
            if keep_bit(*point, p) != (byte <= int(np.floor((1.0 - p) * 255.0))):
                raise SystemExit("byte and keep_mask disagree at %s p=%s" % (point, p))
        lines.append("byte %d %d %d %d %d %d %d %d" % (point + (byte,)))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    per_p = KEEP_LINES // len(PROBS)
    print("%s: %d keep lines (kept share %s), %d byte lines" % (
        args.out, KEEP_LINES, ", ".join("p=%s: %.2f" % (p, kept[p] / per_p) for p in PROBS),
        BYTE_LINES))


if __name__ == "__main__":
    main()
