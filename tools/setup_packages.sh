# tools/setup_packages.sh: sourced by setup_and_test.sh and setup_and_conformance.sh (not run on
# its own). pattn_install_missing installs with apt-get what the build needs and this machine
# lacks (compiler, CMake, pkg-config, OpenBLAS, Criterion, python3 with venv, and the report
# consumers CI checks conformance's TAP and JUnit with: prove, tap.py, xmllint), printing what it
# installs.
# A tool counts as present when it works, however it was installed, so a second run installs
# nothing. Criterion is optional: the build skips its suite when it is missing.

pattn_have_openblas() {
  local header lib
  header=$(compgen -G '/usr/include/cblas.h' || compgen -G '/usr/include/openblas*/cblas.h' ||
           compgen -G '/usr/include/*/cblas.h' || compgen -G '/usr/include/*/openblas*/cblas.h') || return 1
  lib=$(compgen -G '/usr/lib/*/libopenblas.so' || compgen -G '/usr/lib/libopenblas.so' ||
        compgen -G '/usr/lib64/libopenblas.so' || compgen -G '/usr/local/lib/libopenblas.so') || return 1
  [[ -n $header && -n $lib ]]
}

# python3 -m venv (Debian ships it apart, as python3-venv): tools/ci/python_package.sh needs it.
pattn_have_python_venv() {
  python3 -c 'import ensurepip, venv' >/dev/null 2>&1
}

pattn_have_criterion() {
  command -v pkg-config >/dev/null 2>&1 && pkg-config --exists criterion
}

# tap.py (Debian's python3-tap) with the YAML support its TAP 13 parser needs.
pattn_have_tap_py() {
  /usr/bin/python3 -c 'import tap.main, yaml, more_itertools' >/dev/null 2>&1
}

# Runs a command as root: directly, or through sudo.
pattn_as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "setup: not root and no sudo: cannot run: $*" >&2
    return 1
  fi
}

pattn_install_missing() {
  local required=() optional=()
  { command -v cc && command -v make; } >/dev/null 2>&1 || required+=(build-essential)
  command -v cmake >/dev/null 2>&1 || required+=(cmake)
  command -v pkg-config >/dev/null 2>&1 || required+=(pkg-config)
  command -v python3 >/dev/null 2>&1 || required+=(python3)
  pattn_have_python_venv || required+=(python3-venv)
  pattn_have_openblas || required+=(OPENBLAS)
  pattn_have_criterion || optional+=(libcriterion-dev)
  command -v prove >/dev/null 2>&1 || optional+=(perl)
  command -v xmllint >/dev/null 2>&1 || optional+=(libxml2-utils)
  pattn_have_tap_py || optional+=(python3-tap python3-yaml python3-more-itertools)

  if [[ ${#required[@]} -eq 0 && ${#optional[@]} -eq 0 ]]; then
    echo "setup: all build dependencies present (compiler, cmake, pkg-config, python3 + venv, OpenBLAS, Criterion, prove, tap.py, xmllint)"
    return 0
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup: missing ${required[*]} ${optional[*]} and there is no apt-get: install them by hand" >&2
    if [[ ${#required[@]} -gt 0 ]]; then return 1; fi
    return 0
  fi
  export DEBIAN_FRONTEND=noninteractive
  echo "setup: apt-get update"
  if ! pattn_as_root apt-get update -q; then
    echo "setup: apt-get update failed (no package registry?)" >&2
  fi
  local i
  for i in "${!required[@]}"; do
    if [[ ${required[$i]} == OPENBLAS ]]; then
      # The OpenMP variant: the reference may call BLAS next to its own OpenMP threads.
      if apt-cache show libopenblas-openmp-dev >/dev/null 2>&1; then
        required[$i]=libopenblas-openmp-dev
      else
        required[$i]=libopenblas-dev
      fi
    fi
  done
  if [[ ${#required[@]} -gt 0 ]]; then
    echo "setup: installing: ${required[*]}"
    if ! pattn_as_root apt-get install -y -q --no-install-recommends "${required[@]}"; then
      echo "setup: could not install ${required[*]}: the build cannot go on" >&2
      return 1
    fi
  fi
  if [[ ${#optional[@]} -gt 0 ]]; then
    echo "setup: installing: ${optional[*]}"
    if ! pattn_as_root apt-get install -y -q --no-install-recommends "${optional[@]}"; then
      echo "setup: WARNING: could not install ${optional[*]}: the Criterion unit tests or the report-format checks will be skipped or fail" >&2
    fi
  fi
}

# The folder of one Debian OpenBLAS variant (openmp, pthread, serial): LD_LIBRARY_PATH=that
# folder makes a program load that variant instead of the one the alternatives select.
pattn_openblas_variant_dir() {
  echo "/usr/lib/$(gcc -print-multiarch)/openblas-$1"
}

# Installs the Debian OpenBLAS variants that are missing (for the BLAS-variant CI job) without
# changing which one programs load by default: Debian's alternatives prefer pthread (priority
# 100) over openmp (95), so every existing selection is pinned to its current value first.
pattn_install_blas_variants() {
  local missing=() v group triplet current
  for v in openmp pthread serial; do
    [[ -e $(pattn_openblas_variant_dir $v)/libopenblas.so.0 ]] || missing+=(libopenblas0-$v)
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  triplet=$(gcc -print-multiarch)
  for group in libopenblas.so.0 libblas.so.3 liblapack.so.3 libopenblas.so; do
    current=$(update-alternatives --query "$group-$triplet" 2>/dev/null | awk '/^Value:/{print $2}')
    if [[ -n $current ]]; then
      pattn_as_root update-alternatives --set "$group-$triplet" "$current" >/dev/null
    fi
  done
  echo "setup: installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  pattn_as_root apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# Installs what the clang-based CI jobs need (tools/ci/clang.sh, tsan.sh, fuzz.sh) when it is
# missing: clang, its sanitizer and libFuzzer runtimes, and llvm-symbolizer for readable reports.
pattn_install_clang_tools() {
  local missing=()
  command -v clang >/dev/null 2>&1 || missing+=(clang)
  compgen -G '/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a' >/dev/null ||
    missing+=(libclang-rt-dev)
  command -v llvm-symbolizer >/dev/null 2>&1 || compgen -G '/usr/lib/llvm-*/bin/llvm-symbolizer' \
    >/dev/null || missing+=(llvm)
  [[ ${#missing[@]} -eq 0 ]] && return 0
  echo "setup: installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  pattn_as_root apt-get install -y -q --no-install-recommends "${missing[@]}"
}
