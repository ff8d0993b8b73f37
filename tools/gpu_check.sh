#!/usr/bin/env bash
# gpu_check.sh: everything the GPU machine checks, in one go (one device call):
#   build      configure and build into build-gpu (sm_90a)
#   probe      wgmma-probe: the wgmma layouts (descriptors, swizzle) against a host product
#   conform    conformance --backend cuda on data/, then --random N (cuda against the reference)
#   selftest   cuda-selftest: exact dropout masks at shifted positions, ACCUMULATE, general kernel,
#              wgmma against mma.sync
#   bench      pattn-bench -B cuda on FlashAttention's grid (bf16 and fp16) with the default kernels
#              (wgmma on Hopper) and with PATTN_CUDA_KERNEL=mma, and the cost of a call
#   torch      PyTorch SDPA flash and cuDNN on the same grid, then the side-by-side tables (the
#              default kernels' last)
# Usage: tools/gpu_check.sh [STEP...] (default: all, in that order). Logs and JSON go to $OUT
# (default /tmp/pattn_gpu_check); RANDOM_N (default 250) sets the cross-check's size.
# Exit status: 0 when every step that ran passed.
set -u -o pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/pattn_gpu_check}
RANDOM_N=${RANDOM_N:-250}
mkdir -p "$OUT"
steps=("$@")
[ ${#steps[@]} -eq 0 ] && steps=(build probe conform selftest bench torch)
status=0
summary=()

note() { summary+=("$1"); }

# Runs a command into a log (killed after STEP_TIMEOUT seconds, default 240); shows the log's
# lines that are not passes (the last n).
logged() {
    local log=$1 n=$2
    shift 2
    timeout "${STEP_TIMEOUT:-240}" "$@" >"$log" 2>&1
    local rc=$?
    grep -vE "^(ok|PASS)" "$log" | tail -n "$n"
    return $rc
}

step_build() {
    nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu \
        --format=csv,noheader | tee "$OUT/gpu.txt"
    logged "$OUT/cmake.log" 0 cmake -S . -B build-gpu -DPATTN_CUDA=ON -DPATTN_NCCL=OFF \
        -DCMAKE_CUDA_ARCHITECTURES=90a &&
        logged "$OUT/build.log" 0 cmake --build build-gpu -j"$(nproc)" || {
        tail -n 40 "$OUT/cmake.log" "$OUT/build.log"
        return 1
    }
    grep -E "warning" "$OUT/build.log" | head -n 20
    return 0
}

step_probe() {
    [ -x build-gpu/wgmma-probe ] || { echo "no wgmma-probe (not an sm_90a build)"; return 0; }
    timeout 60 build-gpu/wgmma-probe 2>&1 | tee "$OUT/probe.log"
    local rc=${PIPESTATUS[0]}
    note "wgmma-probe: $(tail -n 1 "$OUT/probe.log")"
    return $rc
}

step_conform() {
    local rc=0
    logged "$OUT/conformance.log" 40 build-gpu/conformance --backend cuda || rc=1
    note "conformance --backend cuda: $(tail -n 1 "$OUT/conformance.log")"
    logged "$OUT/random.log" 25 build-gpu/conformance --random "$RANDOM_N" || rc=1
    note "conformance --random $RANDOM_N: $(tail -n 1 "$OUT/random.log")"
    return $rc
}

step_selftest() {
    logged "$OUT/selftest.log" 40 build-gpu/cuda-selftest
    local rc=$?
    note "cuda-selftest: $(tail -n 1 "$OUT/selftest.log")"
    return $rc
}

step_bench() {
    logged "$OUT/bench.log" 0 build-gpu/pattn-bench -B cuda -G fa2 -d bf16,fp16 -J "$OUT/ours.json"
    local rc=$?
    note "pattn-bench: $(tail -n 1 "$OUT/bench.log")"
    logged "$OUT/bench_mma.log" 0 env PATTN_CUDA_KERNEL=mma build-gpu/pattn-bench -B cuda \
        -G fa2 -d bf16,fp16 -J "$OUT/ours_mma.json" || rc=1
    # A problem too small to measure anything but the host side of a call and the launch.
    logged "$OUT/overhead.log" 0 build-gpu/pattn-bench -B cuda -d bf16 -N 1 -Q 1 -s 128 -D 64 -c 0 || rc=1
    note "call overhead (B=1 L=128 H=1 D=64): $(grep -E '^ +cuda' "$OUT/overhead.log" | awk '{print $10 " ms median"}')"
    return $rc
}

step_torch() {
    logged "$OUT/torch.log" 0 python3 tools/bench_torch.py --dtype bf16,fp16 \
        --json "$OUT/torch.json" --ours "$OUT/ours.json"
    local rc=$?
    [ $rc -eq 0 ] || tail -n 20 "$OUT/torch.log"
    [ -f "$OUT/ours_mma.json" ] &&
        python3 tools/bench_torch.py --peers "$OUT/torch.json" --ours "$OUT/ours_mma.json" \
            >"$OUT/table_mma.log" 2>&1
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
[ -f "$OUT/table_mma.log" ] && { echo "# PATTN_CUDA_KERNEL=mma"; sed -n '/^# TFLOP/,$p' "$OUT/table_mma.log"; }
[ -f "$OUT/torch.log" ] && { echo "# default kernels"; sed -n '/^# TFLOP/,$p' "$OUT/torch.log"; } # last
exit $status
