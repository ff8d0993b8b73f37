#!/usr/bin/env bash
# tools/ci/blas_variants.sh: the reference under each Debian OpenBLAS build -- openmp, pthread
# and serial, picked per run with LD_LIBRARY_PATH (the variants are installed if missing, the
# default selection left as it was). Under each, the golden cases and pattn-stress (host
# threads calling forward and backward at once, every result bit-identical to the call run
# alone and close to a float64 oracle) must pass, and the reference must say it loaded that
# build. Uses build/ as tools/setup_and_test.sh leaves it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source tools/setup_packages.sh
pattn_install_blas_variants
declare -A BUILD=([openmp]="(OpenMP build)" [pthread]="(pthreads build)" [serial]="(serial build)")
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for variant in openmp pthread serial; do
  dir=$(pattn_openblas_variant_dir $variant)
  echo "== OpenBLAS $variant: LD_LIBRARY_PATH=$dir"
  if ! LD_LIBRARY_PATH=$dir build/conformance --backend reference --data data >"$log" 2>&1; then
    cat "$log"
    echo "blas_variants: golden cases failed under OpenBLAS $variant" >&2
    exit 1
  fi
  grep '^reference: ' "$log"
  tail -n 1 "$log"
  if ! grep -qF "${BUILD[$variant]}" "$log"; then
    echo "blas_variants: the reference did not load OpenBLAS $variant ${BUILD[$variant]}" >&2
    exit 1
  fi
  LD_LIBRARY_PATH=$dir build/pattn-stress --threads 4 --seconds "${PATTN_STRESS_SECONDS:-6}" \
    --seed 13 | grep -v '^round '
done
