#!/usr/bin/env bash
# tools/ci/report_formats.sh: conformance as its consumers see it, on a built tree (default
# build/; the CPU build of tools/setup_and_test.sh). Feeds its TAP to prove and to tap.py (tappy),
# validates its JUnit against conformance/tests/junit.xsd with xmllint, and checks the command
# line: the exit-status flags (1 failed, 2 I/O or usage, 8 too little, 16 unavailable, added
# up), --allow-skip, repeated --filter, --version, unique --case names in --dump, and --outputs
# accepting a dump and flagging a perturbed one. Needs prove (perl), python3-tap (tap.py) with
# python3-yaml and python3-more-itertools, and xmllint (libxml2-utils): setup_packages.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
build=${1:-build}
conf="$build/conformance"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

check() { # check DESCRIPTION COMMAND...: runs the command, counts a failure when it fails
  local what=$1
  shift
  if "$@"; then
    echo "ok: $what"
  else
    echo "FAILED: $what" >&2
    failures=$((failures + 1))
  fi
}

expect_exit() { # expect_exit STATUS COMMAND...: the command's exit status must be STATUS
  local want=$1 got=0
  shift
  "$@" >"$tmp/last.out" 2>&1 || got=$?
  if [[ $got -ne $want ]]; then
    echo "exit $got, expected $want: $*" >&2
    tail -5 "$tmp/last.out" >&2
    return 1
  fi
}

tappy_run() { # tap.py's consumer (the `tappy` command of the PyPI package tap.py)
  if command -v tappy >/dev/null 2>&1; then
    tappy "$@"
  else
    /usr/bin/python3 -c 'import sys; from tap.main import main; sys.exit(main(sys.argv))' "$@"
  fi
}

# ---------------------------------------------------------------- inputs
# A dump of the reference, one output perturbed in it (a byte of out.0's data flipped), and a
# case folder that cannot load (no qkv).
"$conf" --filter 'batch3_fp16' --filter 'ring2_sym_fp16' --dump "$tmp/dump" >/dev/null
out="$tmp/dump/batch3_fp16/reference/out.0.npy"
printf '\x45' | dd of="$out" bs=1 seek=$((128 + 4 * 37 + 3)) conv=notrunc status=none
mkdir -p "$tmp/cases"
cp -r data/batch3_fp16 data/ring2_sym_fp16 "$tmp/cases/"
cp -r data/mha_full_fp16 "$tmp/cases/broken"
rm "$tmp/cases/broken/qkv.0.npy"
mixed=(--case "$tmp/cases/broken" --case "$tmp/cases/ring2_sym_fp16" --case "$tmp/cases/batch3_fp16"
       --outputs "$tmp/dump")

# ---------------------------------------------------------------- exit status
check "all pass: exit 0" expect_exit 0 "$conf" --filter 'ring2*' --tap
cp "$tmp/last.out" "$tmp/pass.tap"
check "numeric failure + load error: exit 1 + 2" expect_exit 3 "$conf" "${mixed[@]}" --tap \
  --junit "$tmp/mixed.xml"
cp "$tmp/last.out" "$tmp/mixed.tap"
check "a backend this build lacks: exit 16" expect_exit 16 "$conf" --backend cuda
check "... unless --allow-skip" expect_exit 0 "$conf" --backend cuda --allow-skip
mkdir -p "$tmp/empty"
check "--outputs with nothing in it checks too little: exit 8" expect_exit 8 "$conf" \
  --filter 'ring2*' --outputs "$tmp/empty"
check "an unknown option: exit 2" expect_exit 2 "$conf" --no-such-option
check "--deterministic takes 0 or 1 only: exit 2" expect_exit 2 "$conf" --deterministic 2
check "--deterministic 0 runs the backward cases: exit 0" expect_exit 0 "$conf" --deterministic 0 \
  --filter 'bwd_gqa2_hkv2*'
check "a filter that matches nothing: exit 2" expect_exit 2 "$conf" --filter 'no-such-case*'
check "--junit into a missing folder fails before running: exit 2" expect_exit 2 "$conf" \
  --junit "$tmp/missing/report.xml"
check "... and ran nothing" bash -c "! grep -q 'PASS' '$tmp/last.out'"

# ---------------------------------------------------------------- TAP with real consumers
check "prove accepts an all-pass run" prove --exec cat "$tmp/pass.tap"
check "tap.py accepts an all-pass run" tappy_run "$tmp/pass.tap"
prove --exec cat "$tmp/mixed.tap" >"$tmp/prove.txt" 2>&1 || true
check "prove reads the failures" grep -q "Failed 2/3 subtests" "$tmp/prove.txt"
tappy_run "$tmp/mixed.tap" >"$tmp/tappy.txt" 2>&1 || true
check "tap.py reads the failures, and no misplaced plan" \
  bash -c "grep -q 'FAILED (failures=2)' '$tmp/tappy.txt' && grep -q 'Ran 3 tests' '$tmp/tappy.txt' \
           && ! grep -q 'plan must appear' '$tmp/tappy.txt'"

# ---------------------------------------------------------------- JUnit against the schema
"$conf" --junit "$tmp/all.xml" >/dev/null
check "JUnit of a full run validates" xmllint --noout --schema conformance/tests/junit.xsd \
  "$tmp/all.xml"
check "JUnit with a failure and an error validates" xmllint --noout --schema \
  conformance/tests/junit.xsd "$tmp/mixed.xml"
check "JUnit counts: 3 tests, 1 failure, 1 error" \
  grep -q 'tests="3" failures="1" errors="1" skipped="0"' "$tmp/mixed.xml"
check "a load error is an <error>" grep -q '<error message="[^"]*broken: no qkv' "$tmp/mixed.xml"

# ---------------------------------------------------------------- the command line
check "--filter twice ORs the patterns" \
  bash -c "[[ \$('$conf' --list --filter 'ring2*' --filter 'mha_full*' | wc -l) -eq 5 ]]"
major=$(awk '/#define PATTN_VERSION_MAJOR/ {print $3}' include/parallel_attn.h)
minor=$(awk '/#define PATTN_VERSION_MINOR/ {print $3}' include/parallel_attn.h)
check "--version prints $major.$minor" bash -c "'$conf' --version | grep -q '^conformance $major\\.$minor '"
check "--help documents the exit flags" bash -c "'$conf' --help | grep -q '16 a backend asked for'"
"$conf" --case data/ring2_sym_fp16 --case "$tmp/cases/ring2_sym_fp16" --dump "$tmp/twice" >/dev/null
check "two --case folders of one name dump apart" \
  test -f "$tmp/twice/ring2_sym_fp16/reference/out.0.npy" -a \
       -f "$tmp/twice/ring2_sym_fp16@2/reference/out.0.npy"
"$conf" --dump "$tmp/full" >/dev/null
check "--outputs accepts a dump of every case" expect_exit 0 "$conf" --outputs "$tmp/full"
check "--outputs flags the perturbed element" \
  bash -c "'$conf' --filter batch3_fp16 --outputs '$tmp/dump' | grep -q 'batch3_fp16 *reference *out.0 .*FAIL'"
check "--plot draws the failing tensor" bash -c "'$conf' --filter batch3_fp16 --outputs '$tmp/dump' \
  --plot '$tmp/plots' >/dev/null; test -s '$tmp/plots/batch3_fp16/reference/out.0.png'"

if [[ $failures -gt 0 ]]; then
  echo "report_formats: $failures checks failed" >&2
  exit 1
fi
echo "report_formats: all checks passed"
