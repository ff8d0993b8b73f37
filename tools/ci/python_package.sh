#!/usr/bin/env bash
# tools/ci/python_package.sh: the Python package as a user installs it. In a new virtual
# environment it installs numpy, ml_dtypes and pytest, then runs `pip install .`
# (scikit-build-core builds the C library, CPU only here, and puts it inside the package) and
# runs python/tests and examples/ with pytest against data/ and the float64 oracle.
# torch is not installed (its wheels are gigabytes): the torch and CUDA tests skip and say so;
# they run where torch >= 2.4 is installed (PATTN_LIBRARY=build/libparallel_attn.so
# PYTHONPATH=python python3 -m pytest python/tests examples runs them without pip).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
step() { echo "python_package: $*"; "$@"; }
step python3 -m venv "$work/venv"
step "$work/venv/bin/pip" install -q numpy ml_dtypes pytest
step env CMAKE_BUILD_PARALLEL_LEVEL=2 "$work/venv/bin/pip" install -q . \
  --config-settings=cmake.define.PATTN_CUDA=OFF
# From a folder outside the tree, so that the installed package is the one imported.
tests=("$PWD/python/tests" "$PWD/examples")
cd "$work"
step "$work/venv/bin/python" -m pytest -q -rs "${tests[@]}"
