#!/usr/bin/env bash
# tools/ci/bench_smoke.sh: pattn-bench as a user meets it, on a built tree (default build/):
# --help and --version, the nccl-tests letters (-c is the check, -g is not the GQA ratio), a
# tiny grid forward and forward + backward with the output check on (#wrong 0, exit 0), a
# JSON that records the version, the commit, the time, the machine and the timing modes, and
# the CUDA-only and 0|1 options refused where they do not apply.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
bench="${1:-build}/pattn-bench"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "bench_smoke: FAILED: $*" >&2; exit 1; }

"$bench" --help | grep -q -- '-c, --check 0|1' || fail "--help does not document -c, --check"
"$bench" --help | grep -q -- '-g, ' && fail "-g still has a meaning of its own"
"$bench" --version | grep -q '^pattn-bench [0-9]*\.[0-9]* ' || fail "--version"
"$bench" -g 2 >/dev/null 2>&1 && fail "-g is accepted"
"$bench" -d bf16,fp32 -D 32 -s 128,256 -Q 4 -q 2 -n 2 -w 0 -m 0 -J "$tmp/fwd.json" >"$tmp/fwd.txt" ||
  fail "forward grid: $(tail -3 "$tmp/fwd.txt")"
grep -q '^# Out of bounds values : 0 OK' "$tmp/fwd.txt" || fail "no out-of-bounds line"
[[ $(grep -c '^ *reference ' "$tmp/fwd.txt") -eq 8 ]] || fail "expected 8 rows"
awk '/^ *reference / && $13 != 0 {bad = 1} END {exit bad}' "$tmp/fwd.txt" || fail "#wrong != 0"
for key in '"version": "' '"commit": "' '"timestamp": "' '"card": "' '"driver": "' '"wrong": 0}'; do
  grep -q "$key" "$tmp/fwd.json" || fail "the JSON has no $key"
done
"$bench" -d fp16 -D 16 -s 96 -Q 2 -n 1 -w 0 -m 0 -p 0.2 --backward >"$tmp/bwd.txt" ||
  fail "forward + backward: $(tail -3 "$tmp/bwd.txt")"
grep -q 'forward + backward, TFLOP/s = 3.5 x' "$tmp/bwd.txt" || fail "backward FLOPs convention"
grep -q '"deterministic": 0, "timing": "end to end"' "$tmp/fwd.json" || fail "the JSON's modes"
"$bench" --deterministic 2 >/dev/null 2>&1 && fail "--deterministic 2 is accepted"
"$bench" --hide-launch >/dev/null 2>&1 && fail "--hide-launch is accepted on the reference"
echo "bench_smoke: all checks passed"
