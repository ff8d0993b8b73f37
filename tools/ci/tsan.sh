#!/usr/bin/env bash
# tools/ci/tsan.sh: ThreadSanitizer over several host threads calling forward and backward at
# once (pattn-stress). The library is built with clang, without OpenMP (libomp's runtime is not
# instrumented and TSan would report inside it), so every thread is a host thread:
#   - with the built-in sgemm, every line that runs is instrumented;
#   - with the pthreads OpenBLAS, the counted hold of its thread count is exercised too.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source tools/setup_packages.sh
pattn_install_clang_tools
pattn_install_blas_variants
set -x
CC=clang cmake -S . -B build-tsan -DPATTN_CUDA=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_DISABLE_FIND_PACKAGE_OpenMP=ON -DCMAKE_C_FLAGS="-fsanitize=thread"
cmake --build build-tsan -j2 --target pattn-stress
export TSAN_OPTIONS=halt_on_error=1:abort_on_error=1
PATTN_REFERENCE_SGEMM=builtin build-tsan/pattn-stress --threads 4 --seconds 12 --seed 19 |
  grep -v '^round '
LD_LIBRARY_PATH=$(pattn_openblas_variant_dir pthread) build-tsan/pattn-stress --threads 4 \
  --seconds 6 --seed 23 | grep -v '^round '
