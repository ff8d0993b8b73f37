"""pytest set-up for the parallel_attn package: where the golden cases and the float64 oracle
are (tools/golden, imported as `oracle` and `case_io`), and the array kinds this machine runs.

Kinds: "numpy" always; "torch-cpu" when torch (>= 2.4) is installed; "torch-cuda" when torch
sees a GPU and the library has its CUDA backend. A kind that cannot run here is skipped with the
reason, so the same file runs on a CPU laptop, in CI and on the GPU machine.
"""
import os
import sys

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DATA = os.environ.get("PATTN_DATA_DIR", os.path.join(REPO, "data"))
sys.path.insert(0, os.path.join(REPO, "tools", "golden"))

KINDS = ("numpy", "torch-cpu", "torch-cuda")


def golden_cases():
    """Names of the case folders under DATA, sorted."""
    return sorted(name for name in os.listdir(DATA)
                  if os.path.isfile(os.path.join(DATA, name, "case.txt")))


def torch_or_skip():
    torch = pytest.importorskip("torch", reason="torch is not installed")
    if not hasattr(torch.library, "custom_op"):
        pytest.skip("torch %s is older than 2.4 (no torch.library.custom_op)" % torch.__version__)
    return torch


def require_kind(kind):
    """Skips the test unless arrays of this kind can run here."""
    if kind == "numpy":
        return
    torch = torch_or_skip()
    if kind == "torch-cuda":
        import parallel_attn
        if not torch.cuda.is_available():
            pytest.skip("torch sees no CUDA device")
        if not parallel_attn.has_cuda_backend():
            pytest.skip("%s has no CUDA backend" % parallel_attn.library_path())
