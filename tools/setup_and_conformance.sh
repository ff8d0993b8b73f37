#!/usr/bin/env bash
# tools/setup_and_conformance.sh: the README's conformance command. Installs the missing build
# dependencies (apt-get, see setup_packages.sh), builds every backend this machine can build
# (PATTN_CUDA=AUTO: CUDA when nvcc is found) in build-conformance/ (its own folder: the test
# command's build/ is CPU-only), and runs build-conformance/conformance on the shipped golden data
# in data/. Extra arguments go to conformance (e.g. --backend reference, --filter PATTERN). On a
# CUDA build without a usable GPU it exits 16 (a backend that cannot run here) and says so;
# --backend reference or --allow-skip accept that.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source tools/setup_packages.sh
pattn_install_missing
set -x
cmake -S . -B build-conformance -DPATTN_CUDA=AUTO && cmake --build build-conformance -j2 &&
  build-conformance/conformance --data data "$@"
