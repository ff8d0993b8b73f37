#!/usr/bin/env bash
# tools/ci/gpu_sanitize.sh BUILD: compute-sanitizer over the CUDA backend of a CUDA build
# folder (default build-cuda): memcheck of cuda-selftest (4 random problems per kernel family
# and 3 reruns: every kernel and mode) and of conformance --backend cuda on the golden data
# (every kernel family, the GPU ring over the local transport), then racecheck of cuda-selftest
# with 1 random problem per family (racecheck runs about 100x slower than memcheck). Run by tools/gpu_check.sh's sanitize step; exits
# non-zero on any error the sanitizer reports.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
build=${1:-build-cuda}
sanitizer=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
[[ -x $sanitizer ]] || { echo "gpu_sanitize: compute-sanitizer not found" >&2; exit 2; }
run() {
  echo "== compute-sanitizer $*"
  "$sanitizer" --error-exitcode 1 --print-limit 20 "$@"
}
selftest=("$build/cuda-selftest" --random 4 --reruns 3)
run --tool memcheck --leak-check full "${selftest[@]}"
run --tool memcheck "$build/conformance" --backend cuda --data data
run --tool racecheck --racecheck-report hazard "$build/cuda-selftest" --random 1 --reruns 1
