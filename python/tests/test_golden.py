"""Every golden case of data/ through the package, on numpy arrays, CPU tensors and CUDA tensors:
forward outputs, rng_state and the generator's advance, rings through emulate_ring, and the
backward (autograd for single-rank tensor cases). Expected values are the case's own, from the
float64 oracle or PyTorch's flash kernels (data/README.md)."""
import pytest

from conftest import KINDS, golden_cases, require_kind
from golden_runner import run_case


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", golden_cases())
def test_golden_case(name, kind):
    require_kind(kind)
    run_case(name, kind)
