#!/usr/bin/env bash
# gpu_check.sh: everything the GPU machine checks, in one go (one device call):
#   build      the carried build (.carry/, made here with tools/carry_build.sh) when it runs on this
#              machine, else configure and build into build-gpu (sm_90a)
#   probe      wgmma-probe: the wgmma layouts (descriptors, swizzle) against a host product
#   selftest   cuda-selftest: every kernel family against the reference, pass by pass; exact
#              dropout masks at shifted positions; bit-identical backward reruns
#   conform    conformance --backend cuda on data/, then --random N (cuda against the reference)
#   bench      pattn-bench -B cuda on FlashAttention's grid (bf16 and fp16): forward, and forward +
#              backward when the bench has --backward
#   torch      PyTorch SDPA flash and cuDNN on the same grid, then the side-by-side tables
# Usage: tools/gpu_check.sh [STEP...] (default: all, in that order). Logs and JSON go to $OUT
# (default /tmp/pattn_gpu_check); RANDOM_N (default 300) sets the cross-check's size, SELFTEST_N
# (default 40) the selftest's random problems per kernel family.
# Exit status: 0 when every step that ran passed.
set -u -o pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/pattn_gpu_check}
RANDOM_N=${RANDOM_N:-300}
SELFTEST_N=${SELFTEST_N:-40}
export NCCL_NVLS_ENABLE=0
mkdir -p "$OUT"
steps=("$@")
[ ${#steps[@]} -eq 0 ] && steps=(build probe selftest conform bench torch)
status=0
summary=()
BIN=build-gpu

note() { summary+=("$1"); }

# Runs a command into a log (killed after STEP_TIMEOUT seconds, default 240); shows the log's
# lines that are not passes (the last n).
logged() {
    local log=$1 n=$2
    shift 2
    timeout "${STEP_TIMEOUT:-240}" "$@" >"$log" 2>&1
    local rc=$?
    grep -vE "^(ok|PASS)|  PASS$" "$log" | tail -n "$n"
    return $rc
}

step_build() {
    nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu \
        --format=csv,noheader | tee "$OUT/gpu.txt"
    if [ -x .carry/conformance ] && LD_LIBRARY_PATH=.carry .carry/conformance --list >/dev/null 2>&1; then
        BIN=.carry
        export LD_LIBRARY_PATH=$PWD/.carry${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
        note "build: the carried binaries ($(cat .carry/COMMIT 2>/dev/null))"
        return 0
    fi
    [ -d .carry ] && echo "the carried binaries do not run here: building"
    logged "$OUT/cmake.log" 0 cmake -S . -B build-gpu -DPATTN_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a &&
        logged "$OUT/build.log" 0 cmake --build build-gpu -j"$(nproc)" || {
        tail -n 40 "$OUT/cmake.log" "$OUT/build.log"
        return 1
    }
    grep -E "warning" "$OUT/build.log" | head -n 20
    note "build: built here"
    return 0
}

step_probe() {
    [ -x $BIN/wgmma-probe ] || { echo "no wgmma-probe (not an sm_90a build)"; return 0; }
    timeout 60 $BIN/wgmma-probe 2>&1 | tee "$OUT/probe.log"
    local rc=${PIPESTATUS[0]}
    note "wgmma-probe: $(tail -n 1 "$OUT/probe.log")"
    return $rc
}

step_selftest() {
    logged "$OUT/selftest.log" 40 $BIN/cuda-selftest --random "$SELFTEST_N"
    local rc=$?
    note "cuda-selftest: $(tail -n 1 "$OUT/selftest.log")"
    return $rc
}

step_conform() {
    local rc=0
    logged "$OUT/conformance.log" 40 $BIN/conformance --backend cuda --data data || rc=1
    note "conformance --backend cuda: $(tail -n 1 "$OUT/conformance.log")"
    logged "$OUT/random.log" 25 $BIN/conformance --random "$RANDOM_N" --seed "${RANDOM_SEED:-1}" || rc=1
    note "conformance --random $RANDOM_N: $(tail -n 1 "$OUT/random.log")"
    return $rc
}

step_bench() {
    logged "$OUT/bench.log" 0 $BIN/pattn-bench -B cuda -G fa2 -d "${DTYPES:-bf16,fp16}" -J "$OUT/ours.json"
    local rc=$?
    note "pattn-bench forward: $(tail -n 1 "$OUT/bench.log")"
    if $BIN/pattn-bench --help 2>&1 | grep -q -- "--backward"; then
        logged "$OUT/bench_bwd.log" 0 $BIN/pattn-bench -B cuda -G fa2 -d "${DTYPES:-bf16,fp16}" --backward \
            -J "$OUT/ours_bwd.json" || rc=1
        note "pattn-bench backward: $(tail -n 1 "$OUT/bench_bwd.log")"
    fi
    return $rc
}

step_torch() {
    local rc=0
    logged "$OUT/torch.log" 0 python3 tools/bench_torch.py --dtype "${DTYPES:-bf16,fp16}" \
        --json "$OUT/torch.json" --ours "$OUT/ours.json" || rc=1
    [ $rc -eq 0 ] || tail -n 20 "$OUT/torch.log"
    return $rc
}

for s in "${steps[@]}"; do
    echo "=== $s"
    if ! "step_$s"; then
        status=1
        note "$s: FAILED"
        [ "$s" = build ] && break
    fi
done
echo "=== summary"
printf '%s\n' "${summary[@]}"
[ -f "$OUT/torch.log" ] && { echo "# forward"; sed -n '/^# TFLOP/,$p' "$OUT/torch.log"; } # last
exit $status
