#!/usr/bin/env bash
# tools/setup_and_test.sh: the README's test command. On a fresh Debian or Ubuntu machine it
# installs the missing build dependencies (apt-get, see setup_packages.sh), then builds the CPU
# reference without CUDA (so it is quick even where nvcc exists) and runs the tests:
#   cmake -S . -B build -DPATTN_CUDA=OFF && cmake --build build -j2 && ctest --test-dir build --output-on-failure
# then the jobs of tools/ci/: a project using the installed library (consumer.sh), and
# `pip install .` with the Python tests (python_package.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source tools/setup_packages.sh
pattn_install_missing
set -x
cmake -S . -B build -DPATTN_CUDA=OFF && cmake --build build -j2 && ctest --test-dir build --output-on-failure
tools/ci/consumer.sh
tools/ci/python_package.sh
