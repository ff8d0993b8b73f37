#!/usr/bin/env bash
# tools/setup_and_conformance.sh: the README's conformance command. Installs the missing build
# dependencies (apt-get, see setup_packages.sh), builds every backend this machine can build
# (PATTN_CUDA=AUTO: CUDA when nvcc is found), and runs build/conformance on the shipped golden
# data in data/. Extra arguments go to conformance (e.g. --backend reference, --filter PATTERN).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source tools/setup_packages.sh
pattn_install_missing
set -x
cmake -S . -B build -DPATTN_CUDA=AUTO && cmake --build build -j2 && build/conformance --data data "$@"
