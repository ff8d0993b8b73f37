#!/usr/bin/env bash
# tools/ci/fuzz.sh: the libFuzzer targets of fuzz/ under ASan + UBSan, each for a bounded time
# (PATTN_FUZZ_SECONDS, default 15: about a minute in all) from seeds made of the tree's own
# files. A finding stops the job with the crashing input (crash-* in build-fuzz/) and its
# report. The reference runs single-threaded with the built-in sgemm, so all of it is
# instrumented.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source tools/setup_packages.sh
pattn_install_clang_tools
flags="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all"
flags+=" -fno-omit-frame-pointer -g -O1 -Wno-pass-failed"
set -x
CC=clang cmake -S . -B build-fuzz -DPATTN_CUDA=OFF -DPATTN_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_DISABLE_FIND_PACKAGE_OpenMP=ON "-DCMAKE_C_FLAGS=$flags"
cmake --build build-fuzz -j2 --target fuzz-npy fuzz-case-parse fuzz-case-folder fuzz-params
rm -rf build-fuzz/corpus
python3 fuzz/make_seeds.py build-fuzz/corpus
set +x
export PATTN_REFERENCE_SGEMM=builtin ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1
for target in npy case_parse case_folder params; do
  log=build-fuzz/fuzz-$target.log
  if ! (cd build-fuzz && ./fuzz-${target//_/-} -max_total_time="${PATTN_FUZZ_SECONDS:-15}" \
          -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
          "corpus/$target" >"fuzz-$target.log" 2>&1); then
    tail -n 60 "$log"
    echo "fuzz: $target found a problem (input: build-fuzz/crash-*)" >&2
    exit 1
  fi
  echo "fuzz $target: $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" |
    grep -o '[0-9]*$') executions, $(ls "build-fuzz/corpus/$target" | wc -l) corpus inputs, no finding"
done
