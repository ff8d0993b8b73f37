#!/usr/bin/env bash
# tools/ci/consumer.sh: parallel_attn used from another project. Builds the library alone,
# installs it into a scratch prefix, checks what was installed (header, versioned soname,
# only the public API exported, CMake package, pkg-config file), then builds and runs
# examples/consumer three ways: find_package, pkg-config, and add_subdirectory of the tree.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
src=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
pass() { passed=$((passed + 1)); echo "consumer: ok: $*"; }

cmake -S . -B "$work/lib" -DPATTN_CUDA=OFF -DPATTN_BUILD_TESTS=OFF > "$work/lib.log"
cmake --build "$work/lib" -j2 >> "$work/lib.log"
cmake --install "$work/lib" --prefix "$work/prefix" > /dev/null
libdir=$(dirname "$(find "$work/prefix" -name 'libparallel_attn.so' | head -1)")
test -f "$work/prefix/include/parallel_attn.h"
readelf -d "$libdir/libparallel_attn.so" | grep -q 'SONAME.*\[libparallel_attn\.so\.[0-9]*\]'
test -f "$libdir/cmake/parallel_attn/parallel_attnConfig.cmake"
test -f "$libdir/pkgconfig/parallel_attn.pc"
soname=$(readelf -d "$libdir/libparallel_attn.so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
pass "installed header, soname $soname, CMake package, pkg-config file"

exported=$(nm -D --defined-only "$libdir/libparallel_attn.so" | awk '{print $3}')
if grep -qv '^pattn[A-Z]' <<< "$exported"; then
  echo "consumer: FAIL: internal symbols exported: $(grep -v '^pattn[A-Z]' <<< "$exported" | tr '\n' ' ')"
  exit 1
fi
pass "exports only the public API ($(wc -l <<< "$exported") pattn* functions)"

cmake -S examples/consumer -B "$work/find" -DCMAKE_PREFIX_PATH="$work/prefix" > /dev/null
cmake --build "$work/find" > /dev/null
"$work/find/consumer"
pass "find_package(parallel_attn)"

export PKG_CONFIG_PATH=$libdir/pkgconfig
cc -o "$work/pkgconfig-consumer" examples/consumer/main.c $(pkg-config --cflags --libs parallel_attn) \
   -lm -Wl,-rpath,"$libdir"
"$work/pkgconfig-consumer"
pass "pkg-config parallel_attn"

cmake -S examples/consumer -B "$work/sub" -DPATTN_SOURCE_DIR="$src" -DPATTN_CUDA=OFF > /dev/null
cmake --build "$work/sub" -j2 > /dev/null
"$work/sub/consumer"
pass "add_subdirectory(parallel_attn)"

echo "consumer: $passed passed, 0 failed"
