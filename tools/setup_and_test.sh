#!/usr/bin/env bash
# tools/setup_and_test.sh: the README's test command. On a fresh Debian or Ubuntu machine it
# installs the missing build dependencies (apt-get, see setup_packages.sh), then builds the CPU
# reference without CUDA (so it is quick even where nvcc exists) in build/ (setup_and_conformance.sh
# builds in build-conformance/, so the two never rebuild each other's tree) and runs the tests:
#   cmake -S . -B build -DPATTN_CUDA=OFF && cmake --build build -j2 && ctest --test-dir build --output-on-failure
# then the jobs of tools/ci/: TAP/JUnit through real consumers (report_formats.sh), pattn-bench
# (bench_smoke.sh), a project using the installed library (consumer.sh), `pip install .` with the
# Python tests (python_package.sh), the golden data and pattn-stress under each OpenBLAS build
# (blas_variants.sh), ASan/UBSan with clang (sanitize.sh), ThreadSanitizer (tsan.sh) and the
# fuzzers for a bounded time (fuzz.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source tools/setup_packages.sh
pattn_install_missing
set -x
cmake -S . -B build -DPATTN_CUDA=OFF && cmake --build build -j2 && ctest --test-dir build --output-on-failure
tools/ci/report_formats.sh build
tools/ci/bench_smoke.sh build
tools/ci/consumer.sh
tools/ci/python_package.sh
tools/ci/blas_variants.sh
tools/ci/sanitize.sh
tools/ci/tsan.sh
tools/ci/fuzz.sh
