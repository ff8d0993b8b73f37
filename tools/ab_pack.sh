#!/usr/bin/env bash
# ab_pack.sh NAME: builds the library and pattn-bench of the working tree here (build-cuda, sm_90a)
# and packs them as .ab/NAME.txz, a variant for gpu_check.sh's ab step. .ab/ is ignored by git
# (.git/info/exclude); name it in the device call's carry list beside .carry. A typical A/B:
#   tools/ab_pack.sh base         # the tree before the change
#   (change the code) && tools/carry_build.sh
#   run: tools/gpu_check.sh build ab    (base against the carried tree, AB_ROUNDS rounds)
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: tools/ab_pack.sh NAME}
case $name in tree | *[!A-Za-z0-9_-]*) echo "ab_pack.sh: NAME must be [A-Za-z0-9_-]+ and not 'tree'" >&2; exit 2 ;; esac
grep -qx '/.ab/' .git/info/exclude 2>/dev/null || echo '/.ab/' >>.git/info/exclude
cmake -S . -B build-cuda -DPATTN_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a >/dev/null
cmake --build build-cuda -j"${JOBS:-2}" --target parallel_attn_internal pattn-bench
stage=$(mktemp -d)
mkdir "$stage/$name"
cp build-cuda/libparallel_attn_internal.so build-cuda/pattn-bench "$stage/$name/"
git describe --always --dirty >"$stage/$name/COMMIT"
mkdir -p .ab
tar -C "$stage" -cJf ".ab/$name.txz" "$name"
rm -rf "$stage"
du -h ".ab/$name.txz"
