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


def _write(path, rows):
    import json
    with open(path, "w") as f:
        json.dump({"rows": rows}, f)


def _row(backend, causal, d, L, tflops):
    return {"backend": backend, "dtype": "bf16", "causal": causal, "seqlen": L, "head_dim": d,
            "status": "ok", "tflops": tflops}


def test_head_dims_table(tmp_path):
    """The other head dims' table from a folder with only the dims step's files: ours 400 and
    cuDNN 500 at p = 0, 300 and 250 at p = 0.1, so the row reads 0.75 / 0.50 kept and 0.80x."""
    _write(tmp_path / "dims_ours_192.json", [_row("cuda", 1, 192, 8192, 400.0)])
    _write(tmp_path / "dims_mma_192.json", [_row("cuda", 1, 192, 8192, 200.0)])
    _write(tmp_path / "dims_drop_192.json", [_row("cuda", 1, 192, 8192, 300.0)])
    _write(tmp_path / "torch_dims.json", [_row("torch_flash", 1, 192, 8192, 350.0),
                                          _row("torch_cudnn", 1, 192, 8192, 500.0)])
    _write(tmp_path / "torch_dims_drop.json", [_row("torch_cudnn", 1, 192, 8192, 250.0)])
    out = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "readme_tables.py"),
                          str(tmp_path)], check=True, capture_output=True, text=True).stdout
    assert ("| bf16 | causal | 192 | 8K | 400 / 200 / 350 / 500 | 300 / 250 | 0.75 / 0.50 | "
            "0.80x |") in out
