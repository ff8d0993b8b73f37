#!/usr/bin/env bash
# tools/ci/clang.sh: the whole CPU build with clang (Debian 12's clang 14, which once failed to
# link the library's function multiversioning), then ctest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source tools/setup_packages.sh
pattn_install_clang_tools
set -x
CC=clang CXX=clang++ cmake -S . -B build-clang -DPATTN_CUDA=OFF
cmake --build build-clang -j2
ctest --test-dir build-clang --output-on-failure
