"""tools/readme_tables.py against the README tables of the 2026-12-01 H200 run, which were
written from that run's JSON by hand before the script existed."""
import os
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def tables():
    return subprocess.run([sys.executable, os.path.join(ROOT, "tools", "readme_tables.py"),
                           os.path.join(ROOT, "bench", "2026-12-01_h200")],
                          check=True, capture_output=True, text=True).stdout


def test_forward_backward_and_dropout_cells():
    out = tables()
    assert ("| bf16 | full | 128 | 352 / 295 / 500 | 393 / 324 / 584 | 418 / 341 / 621 | "
            "428 / 338 / 658 | 429 / 338 / 667 | 1.21-1.27x | 0.64-0.67x |") in out
    assert ("| fp16 | causal | 64 | 118 / 142 / 209 | 138 / 206 / 286 | 150 / 230 / 339 | "
            "160 / 250 / 393 | 165 / 267 / 406 | 0.62-0.67x | 0.41-0.48x |") in out
    assert ("| bf16 | full | 128 | 8K | 317 / 276 / 293 | 0.74 / 0.82 / 0.45 | "
            "153 / 283 / 408 | 0.82 / 0.96 / 0.78 |") in out
