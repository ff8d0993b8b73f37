#!/usr/bin/env bash
# tools/ci/sanitize.sh: the cpu-debug preset (AddressSanitizer + UndefinedBehaviorSanitizer,
# leaks detected) builds everything and runs ctest -- the unit tests and conformance on the
# golden data --, then the conformance exit codes LeakSanitizer used to change (--list, an empty
# --data) and a short pattn-stress.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
set -x
cmake --preset cpu-debug
cmake --build --preset cpu-debug
ctest --preset cpu-debug
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
empty=$(mktemp -d)
trap 'rmdir "$empty"' EXIT
build-debug/conformance --list --data data >/dev/null
rc=0
build-debug/conformance --data "$empty" || rc=$?
[[ $rc -eq 2 ]] || { echo "sanitize: conformance on an empty folder exited $rc, expected 2" >&2; exit 1; }
build-debug/pattn-stress --threads 2 --seconds 10 --seed 17 | grep -v '^round '
