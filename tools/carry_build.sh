#!/usr/bin/env bash
# carry_build.sh: builds the CUDA tree here (build-cuda, sm_90a) and copies what the GPU machine
# runs into .carry/ (the library, the programs, the commit they come from), so that a device call
# can skip its own build (tools/gpu_check.sh uses .carry/ when it runs there). .carry/ is ignored
# by git (.git/info/exclude); name it in the device call's carry list.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.carry/' .git/info/exclude 2>/dev/null || echo '/.carry/' >>.git/info/exclude
cmake -S . -B build-cuda -DPATTN_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a >/dev/null
cmake --build build-cuda -j"${JOBS:-2}"
rm -rf .carry && mkdir -p .carry
# The programs need libparallel_attn_internal.so, pattn-bench and Python libparallel_attn.so.0.
cp build-cuda/libparallel_attn.so.0 build-cuda/libparallel_attn_internal.so \
   build-cuda/conformance build-cuda/cuda-selftest \
   build-cuda/pattn-bench build-cuda/wgmma-probe .carry/
for extra in build-cuda/pattn-stress build-cuda/ring-selftest; do [ -x "$extra" ] && cp "$extra" .carry/; done
git describe --always --dirty >.carry/COMMIT
du -sh .carry
