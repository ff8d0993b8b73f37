#!/usr/bin/env bash
# tools/ci/sanitize.sh: the cpu-debug preset (AddressSanitizer + UndefinedBehaviorSanitizer,
# leaks detected), built with clang -- so this is also CI's clang build, Debian 12's clang 14
# having once failed to link the library -- runs ctest: the unit tests and conformance on the
# golden data. Then the conformance exit codes LeakSanitizer used to change (--list, an empty
# --data) and a short pattn-stress.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source tools/setup_packages.sh
pattn_install_clang_tools
set -x
CC=clang CXX=clang++ cmake --preset cpu-debug
cmake --build --preset cpu-debug
ctest --preset cpu-debug
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
empty=$(mktemp -d)
trap 'rmdir "$empty"' EXIT
build-debug/conformance --list --data data >/dev/null
rc=0
build-debug/conformance --data "$empty" || rc=$?
[[ $rc -eq 2 ]] || { echo "sanitize: conformance on an empty folder exited $rc, expected 2" >&2; exit 1; }
build-debug/pattn-stress --threads 2 --seconds 5 --seed 17 | grep -v '^round '
