"""tools/ab_table.py on made-up runs: the best round per variant, the ratio to the first variant,
the backward's number where a row has one, and exit 1 when a variant lacks a row."""
import json
import os
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def row(tflops, bwd=None, causal=0, seqlen=2048):
    return {"dtype": "bf16", "head_dim": 128, "causal": causal, "seqlen": seqlen, "dropout": 0,
            "tflops": tflops, "bwd_tflops": bwd}


def write(folder, name, rows):
    (folder / name).write_text(json.dumps({"rows": rows}))


def run(folder, *flags):
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "ab_table.py"), str(folder), *flags],
                       capture_output=True, text=True)
    return r.returncode, r.stdout


def test_best_round_and_ratio(tmp_path):
    write(tmp_path, "base_m1_r1.json", [row(100.0)])
    write(tmp_path, "base_m1_r2.json", [row(110.0)])
    write(tmp_path, "tree_m1_r1.json", [row(121.0)])
    write(tmp_path, "tree_m1_r2.json", [row(99.0)])
    rc, out = run(tmp_path)
    assert rc == 0, out
    assert "| 1 | bf16 | 128 | full | 2048 | 0 | 110 | 121 (1.10x) |" in out


def test_backward_number_is_preferred(tmp_path):
    write(tmp_path, "a_m2_r1.json", [row(300.0, bwd=200.0, causal=1)])
    write(tmp_path, "b_m2_r1.json", [row(300.0, bwd=100.0, causal=1)])
    rc, out = run(tmp_path, "--order", "a,b")
    assert rc == 0, out
    assert "| 2 | bf16 | 128 | causal | 2048 | 0 | 200 | 100 (0.50x) |" in out


def test_missing_row_fails(tmp_path):
    write(tmp_path, "a_m1_r1.json", [row(10.0), row(20.0, seqlen=8192)])
    write(tmp_path, "b_m1_r1.json", [row(10.0)])
    rc, out = run(tmp_path)
    assert rc == 1
    assert "| 1 | bf16 | 128 | full | 8192 | 0 | 20 | - |" in out
