#!/usr/bin/env bash
# gpu_check.sh: everything the GPU machine checks, in one go (one device call):
#   build      the carried build (.carry/, made here with tools/carry_build.sh) when it runs on this
#              machine, else configure and build into build-gpu (sm_90a)
#   probe      wgmma-probe: the wgmma layouts (descriptors, swizzle) against a host product
#   sass       the SASS of fwd_tma's main loop (cuobjdump; bf16, d 64 and 128, p = 0 and 0.1, and
#              the three-consumer d 64): its exponentials before the wait for P V, where they
#              run under that product, and the Philox rounds' place (tools/sass_waits.py: ptxas
#              moves waits up a block)
#   selftest   cuda-selftest: every kernel family against the reference, pass by pass; exact
#              dropout masks at shifted positions; bit-identical backward reruns; ring-selftest:
#              the GPU ring against the reference's, over the local transport and NCCL, a lost
#              member, a generator mismatch
#   conform    conformance --backend cuda on data/ (each case's backward mode, then all with
#              --deterministic 0, the atomics), then --random N (cuda against the float64
#              oracle, FlashAttention's rule measured per draw)
#   sanitize   tools/ci/gpu_sanitize.sh: compute-sanitizer memcheck and racecheck of cuda-selftest,
#              memcheck of conformance --backend cuda (not in the default list: it takes minutes)
#   bench      pattn-bench -B cuda on FlashAttention's grid ($DTYPES, default bf16 and fp16): forward,
#              forward + backward (and the backward alone), dropout 0.1, GPU time (--hide-launch)
#              and the deterministic backward on part of it, the cost of a call
#   ring       pattn-bench --ring 2 and 4 on this machine's GPUs (local transport): per-step
#              compute, transfers, GB/s and the share hidden
#   dims       the forward at the other Hopper head dims ($DIMS, default 96 160 192 224 256; bf16,
#              hidden 2048, 2K and 8K): ours, the mma.sync kernel (PATTN_CUDA_KERNEL=mma), ours
#              with dropout 0.1, and PyTorch's flash and cuDNN with and without dropout
#   torch      PyTorch SDPA flash and cuDNN on the same grid, forward and backward, and with
#              dropout, then the side-by-side tables
#   ab         A/B: each variant in .ab/ (tools/ab_pack.sh) against this build ("tree"), pattn-bench
#              over each line of $AB_MODES (a file of option lines; default: the backward fast,
#              deterministic and with dropout, and the forward, bf16, d 64 and 128, 2K and 8K),
#              $AB_ROUNDS rounds (default 2) interleaved, then tools/ab_table.py's table (the best
#              round, the ratio to the first variant; not in the default list)
#   profile    ncu on the forward (bf16 full 8K: d128 p = 0 and 0.1, d64) and the backward (d128,
#              d64): speed of light, warp stalls,
#              the tensor-core, MUFU and FMA pipes (not in the default list)
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
[ ${#steps[@]} -eq 0 ] && steps=(build probe sass selftest conform bench ring dims torch)
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

# NCCL for the ring's NCCL transport: the library loads libnccl.so.2 at run time; where the
# system has none, the one PyTorch's wheels carry.
find_nccl() {
    [ -n "${PATTN_NCCL_LIBRARY:-}" ] && return
    local lib
    lib=$(python3 -c 'import nvidia.nccl, os; print(os.path.join(list(nvidia.nccl.__path__)[0], "lib", "libnccl.so.2"))' 2>/dev/null)
    [ -n "$lib" ] && [ -f "$lib" ] && export PATTN_NCCL_LIBRARY=$lib
}

step_build() {
    nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu \
        --format=csv,noheader | tee "$OUT/gpu.txt"
    find_nccl
    echo "NCCL: ${PATTN_NCCL_LIBRARY:-libnccl.so.2 from the loader path}"
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

step_sass() {
    local cuo rc=0 k n f line flags lines=""
    cuo=$(command -v cuobjdump || echo /usr/local/cuda/bin/cuobjdump)
    [ -x "$cuo" ] || { note "sass: skipped (no cuobjdump here)"; return 0; }
    # <d>ELi<consumers>EEELb<dropout> of the kernel's mangled name
    for k in 128ELi2EEELb0 128ELi2EEELb1 64ELi2EEELb0 64ELi2EEELb1 64ELi3EEELb0; do
        n=_ZN5pattn14fwd_tma_kernelI13__nv_bfloat16NS_6TmaFwdILi${k}ELi0EEEvNS_12FwdTmaParamsE
        f=$OUT/sass_$k.txt
        flags=""
        [ "${k: -1}" = 1 ] && flags=--expect-philox
        if ! "$cuo" -sass -fun "$n" $BIN/libparallel_attn_internal.so >"$f" 2>"$f.err" || [ ! -s "$f" ]; then
            line="$f: FAIL: no SASS from cuobjdump ($(head -c 200 "$f.err"))"
            rc=1
        elif ! grep -qF "$n" "$f"; then
            # cuobjdump prints the fatbin headers alone for a name the library lacks
            line="$f: FAIL: no kernel $n in the library (its template arguments changed?)"
            rc=1
        else
            line=$(python3 tools/sass_waits.py $flags "$f" | tail -n 1) || rc=1
        fi
        echo "$line"
        lines+="$(echo "$k" | sed -E 's/ELi([23])EEELb([01])/ x\1, dropout \2/') $(echo "$line" |
            sed -E 's/^[^ ]*: //; s/ (of|in a trip|\().*//'); "
    done
    note "sass (share of fwd_tma's exponentials before the wait for P V, d x consumers): $lines"
    return $rc
}

step_selftest() {
    logged "$OUT/selftest.log" 40 $BIN/cuda-selftest --random "$SELFTEST_N"
    local rc=$?
    note "cuda-selftest: $(tail -n 1 "$OUT/selftest.log")"
    logged "$OUT/ring_selftest.log" 40 $BIN/ring-selftest || rc=1
    note "ring-selftest: $(tail -n 1 "$OUT/ring_selftest.log")"
    return $rc
}

step_conform() {
    local rc=0
    logged "$OUT/conformance.log" 40 $BIN/conformance --backend cuda --data data || rc=1
    note "conformance --backend cuda: $(tail -n 1 "$OUT/conformance.log")"
    logged "$OUT/conformance_fast.log" 40 $BIN/conformance --backend cuda --data data \
        --deterministic 0 || rc=1
    note "conformance --backend cuda --deterministic 0: $(tail -n 1 "$OUT/conformance_fast.log")"
    logged "$OUT/random.log" 25 $BIN/conformance --random "$RANDOM_N" --seed "${RANDOM_SEED:-1}" || rc=1
    note "conformance --random $RANDOM_N: $(tail -n 1 "$OUT/random.log")"
    return $rc
}

step_sanitize() {
    STEP_TIMEOUT=${SANITIZE_TIMEOUT:-420} logged "$OUT/sanitize.log" 30 tools/ci/gpu_sanitize.sh "$BIN"
    local rc=$?
    note "compute-sanitizer: $(grep -cE '^== compute-sanitizer' "$OUT/sanitize.log") runs, $(grep -E 'ERROR SUMMARY' "$OUT/sanitize.log" | tr '\n' ';')"
    return $rc
}

step_bench() {
    local rc=0 d=${DTYPES:-bf16,fp16}
    logged "$OUT/bench.log" 0 $BIN/pattn-bench -B cuda -G fa2 -d "$d" -J "$OUT/ours.json" || rc=1
    note "pattn-bench forward: $(tail -n 1 "$OUT/bench.log")"
    logged "$OUT/bench_bwd.log" 0 $BIN/pattn-bench -B cuda -G fa2 -d "$d" --backward \
        -J "$OUT/ours_bwd.json" || rc=1
    note "pattn-bench forward+backward: $(tail -n 1 "$OUT/bench_bwd.log")"
    # Dropout p = 0.1 against p = 0 on part of the grid (d128, 2K and 8K).
    logged "$OUT/bench_drop.log" 0 $BIN/pattn-bench -B cuda -G fa2 -s 2K,8K -d "$d" -p 0.1 \
        --backward -J "$OUT/ours_drop.json" || rc=1
    note "pattn-bench dropout 0.1: $(tail -n 1 "$OUT/bench_drop.log")"
    # GPU time (the launch hidden, as FlashAttention-4's numbers are) beside the end-to-end rows:
    # the forward alone, then forward + backward (and the backward alone).
    logged "$OUT/bench_gpu_time_fwd.log" 0 $BIN/pattn-bench -B cuda -G fa2 -s 2K,8K -d "$d" \
        --hide-launch -J "$OUT/ours_gpu_time_fwd.json" || rc=1
    note "pattn-bench --hide-launch forward: $(tail -n 1 "$OUT/bench_gpu_time_fwd.log")"
    logged "$OUT/bench_gpu_time.log" 0 $BIN/pattn-bench -B cuda -G fa2 -s 2K,8K -d "$d" --backward \
        --hide-launch -J "$OUT/ours_gpu_time.json" || rc=1
    note "pattn-bench --hide-launch: $(tail -n 1 "$OUT/bench_gpu_time.log")"
    # The deterministic backward (no atomics) on part of the grid (2K and 8K).
    logged "$OUT/bench_det.log" 0 $BIN/pattn-bench -B cuda -G fa2 -s 2K,8K -d "$d" --backward \
        --deterministic 1 -J "$OUT/ours_det.json" || rc=1
    note "pattn-bench deterministic backward: $(tail -n 1 "$OUT/bench_det.log")"
    # A problem too small to measure anything but the host side of a call and the launch.
    logged "$OUT/overhead.log" 0 $BIN/pattn-bench -B cuda -d bf16 -N 1 -Q 1 -s 128 -D 64 -K 0 -c 0 || rc=1
    note "call overhead (B=1 L=128 H=1 D=64): $(grep -E '^ +cuda' "$OUT/overhead.log" | awk '{print $10 " ms median"}')"
    return $rc
}

# A/B of the variants in .ab/*.txz against this build, rounds interleaved so that clocks and
# temperature drift alike for all.
step_ab() {
    local modes=${AB_MODES:-} rounds=${AB_ROUNDS:-2} dir=$OUT/ab rc=0 t v r i line lib
    local -a variants=()
    mkdir -p "$dir/bin"
    if [ -z "$modes" ]; then
        modes=$dir/modes.txt
        printf '%s\n' "--backward" "--backward --deterministic 1" "--backward -p 0.1" "" >"$modes"
    fi
    for t in .ab/*.txz; do
        [ -f "$t" ] || continue
        tar -C "$dir/bin" -xJf "$t" && variants+=("$(basename "$t" .txz)")
    done
    [ ${#variants[@]} -gt 0 ] || { echo "no variants in .ab/ (tools/ab_pack.sh)"; return 1; }
    for r in $(seq 1 "$rounds"); do
        for v in "${variants[@]}" tree; do
            lib=$dir/bin/$v
            [ "$v" = tree ] && lib=$PWD/$BIN
            i=0
            while IFS= read -r line || [ -n "$line" ]; do
                i=$((i + 1))
                # shellcheck disable=SC2086
                LD_LIBRARY_PATH=$lib timeout "${STEP_TIMEOUT:-240}" "$lib/pattn-bench" -B cuda -c 0 -d bf16 -D 64,128 \
                    -s 2K,8K -K both -t 16K -H 2048 $line -J "$dir/${v}_m${i}_r$r.json" \
                    >"$dir/${v}_m${i}_r$r.log" 2>&1 || { echo "ab: $v mode $i ($line) failed"; rc=1; }
            done <"$modes"
        done
    done
    nl -ba "$modes" | sed 's/^/mode /'
    python3 tools/ab_table.py "$dir" --order "$(IFS=,; echo "${variants[*]}"),tree" | tee "$dir/table.md" || rc=1
    note "ab: ${variants[*]} against tree, $rounds rounds: $dir/table.md"
    return $rc
}

# ncu at bf16 full 8K (B 2, 2048 hidden): the forward at d128 without and with dropout and at
# d64, the backward (bwd_tma) at d128 and d64: the speed of light, the warp stalls and the pipes
# (tensor cores, MUFU, FMA, shared memory) the kernel keeps busy.
step_profile() {
    command -v ncu >/dev/null || { echo "no ncu here"; return 0; }
    local rc=0 cfg pass d p kernel flags log
    for cfg in fwd,128,0 fwd,128,0.1 fwd,64,0 bwd,128,0 bwd,64,0; do
        IFS=, read -r pass d p <<<"$cfg"
        kernel=regex:fwd_ flags=""
        [ "$pass" = bwd ] && kernel=regex:bwd_tma flags=--backward
        log=$OUT/ncu_${pass}_d${d}_p$p.log
        # shellcheck disable=SC2086
        logged "$log" 0 ncu --kernel-name "$kernel" --launch-count 1 \
            --section SpeedOfLight --section WarpStateStats --section Occupancy \
            --metrics 'regex:^sm__pipe_tensor.*_cycles_active\.avg\.pct_of_peak_sustained_active$,sm__inst_executed_pipe_xu.avg.pct_of_peak_sustained_active,sm__pipe_fma_cycles_active.avg.pct_of_peak_sustained_active,smsp__issue_active.avg.pct_of_peak_sustained_active,l1tex__data_pipe_lsu_wavefronts_mem_shared.avg.pct_of_peak_sustained_elapsed,regex:^smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio$' \
            $BIN/pattn-bench -B cuda -d bf16 -N 2 -Q $((2048 / d)) -D "$d" -s 8K -K 0 -p "$p" -c 0 -n 1 -w 0 $flags || rc=1
        note "ncu $pass d$d p=$p: $(grep -E 'Duration|Compute \(SM\) Throughput|pipe_tensor|pipe_xu|pipe_fma|issue_active|mem_shared' "$log" | awk '{print $1, $NF}' | tr '\n' ';')"
        note "  largest stalls: $(grep -E 'issue_stalled' "$log" | awk '{print $NF, $1}' | sort -rn | head -n 5 | sed -E 's/smsp__average_warps_issue_stalled_|_per_issue_active.ratio//g' | tr '\n' ';')"
    done
    return $rc
}

step_ring() {
    # The ring on this machine's GPUs (local transport): GQA 32:8, d128, bf16, causal (sym split),
    # forward + backward, 2 and 4 members of 8K tokens each (4K with more members on one GPU).
    local rc=0
    for n in 2 4; do
        logged "$OUT/ring$n.log" 0 $BIN/pattn-bench -B cuda --ring $n -d bf16 -D 128 -s 4K,8K -N 1 \
            -Q 32 -q 4 -K 1 --backward -c 0 -J "$OUT/ring$n.json" || rc=1
        note "ring $n: $(grep -E '^ +cuda' "$OUT/ring$n.log" | sed -E 's/.*(ring [0-9]+:.*)/\1/' | tr '\n' ';')"
    done
    return $rc
}

step_dims() {
    local rc=0 d q dims=${DIMS:-96 160 192 224 256}
    for d in $dims; do
        q=$((2048 / d))
        logged "$OUT/dims_$d.log" 0 $BIN/pattn-bench -B cuda -s 2K,8K -D $d -Q $q -d bf16 \
            -J "$OUT/dims_ours_$d.json" || rc=1
        logged "$OUT/dims_mma_$d.log" 0 env PATTN_CUDA_KERNEL=mma $BIN/pattn-bench -B cuda -s 2K,8K \
            -D $d -Q $q -d bf16 -J "$OUT/dims_mma_$d.json" || rc=1
        logged "$OUT/dims_drop_$d.log" 0 $BIN/pattn-bench -B cuda -s 2K,8K -D $d -Q $q -d bf16 \
            -p 0.1 -J "$OUT/dims_drop_$d.json" || rc=1
        note "head dim $d (ours / mma.sync / ours p=0.1, TFLOP/s by causal, L): $(paste -d' ' \
            <(awk '$1=="cuda"{print "c" $3 "/" $5 ":"$12}' "$OUT/dims_$d.log") \
            <(awk '$1=="cuda"{print $12}' "$OUT/dims_mma_$d.log") \
            <(awk '$1=="cuda"{print $12 ";"}' "$OUT/dims_drop_$d.log") | tr '\n' ' ')"
    done
    local list
    list=$(echo $dims | tr ' ' ',')
    logged "$OUT/torch_dims.log" 0 python3 tools/bench_torch.py --dtype bf16 --head-dims "$list" \
        --seqlens 2048,8192 --json "$OUT/torch_dims.json" || rc=1
    logged "$OUT/torch_dims_drop.log" 0 python3 tools/bench_torch.py --dtype bf16 --head-dims "$list" \
        --seqlens 2048,8192 --dropout 0.1 --json "$OUT/torch_dims_drop.json" || rc=1
    return $rc
}

step_torch() {
    local rc=0 d=${DTYPES:-bf16,fp16}
    logged "$OUT/torch.log" 0 python3 tools/bench_torch.py --dtype "$d" \
        --json "$OUT/torch.json" --ours "$OUT/ours.json" || rc=1
    logged "$OUT/torch_bwd.log" 0 python3 tools/bench_torch.py --dtype "$d" --pass bwd \
        --json "$OUT/torch_bwd.json" --ours "$OUT/ours_bwd.json" || rc=1
    logged "$OUT/torch_drop.log" 0 python3 tools/bench_torch.py --dtype "$d" --head-dims 64,128 \
        --seqlens 2048,8192 --dropout 0.1 --json "$OUT/torch_drop.json" || rc=1
    logged "$OUT/torch_drop_bwd.log" 0 python3 tools/bench_torch.py --dtype "$d" --head-dims 64,128 \
        --seqlens 2048,8192 --dropout 0.1 --pass bwd --json "$OUT/torch_drop_bwd.json" || rc=1
    [ $rc -eq 0 ] || tail -n 20 "$OUT/torch.log" "$OUT/torch_bwd.log"
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
# Every log and JSON in one file (a device call brings back at most 8 files).
tar czf "$OUT.tgz" -C "$(dirname "$OUT")" "$(basename "$OUT")" 2>/dev/null && mv "$OUT.tgz" "$OUT/all.tgz"
echo "=== summary"
printf '%s\n' "${summary[@]}"
[ -f "$OUT/torch_bwd.log" ] && sed -n '/^# TFLOP/,$p' "$OUT/torch_bwd.log"
[ -f "$OUT/torch.log" ] && sed -n '/^# TFLOP/,$p' "$OUT/torch.log" # last
exit $status
