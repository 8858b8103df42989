#!/bin/bash
# The multi-GPU evidence of issue 11, for a machine with 2 GPUs (nvidia-h100-x2): builds
# dist/bin/rwkv-train for sm_90 (unless SKIP_BUILD=1) and runs multigpu_check.py, which writes
# OUTDIR/multigpu.md + multigpu.json and prints each check as it ends. See multigpu_check.py.
#
# Usage, from anywhere in the repo: engine/cuda/device_tests/run_multigpu.sh OUTDIR
# Environment: CHECKS=bitwise,same_loss,... (default all, in order), DEADLINE_S=540, CACHE=/tmp/rwkv_multigpu,
#              RWKV_NCCL=/path/to/libnccl.so.2 (else the engine's own search: CUDA toolkit, PyTorch's wheels)
set -u -o pipefail
OUT=${1:?usage: run_multigpu.sh OUTDIR}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
cd "$ROOT" || exit 1
export MULTIGPU_T0=${MULTIGPU_T0:-$(date +%s)}
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  t=$(date +%s)
  { cmake -S engine -B build/engine -DCMAKE_BUILD_TYPE=Release -DRWKV_WITH_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCH:-90}" &&
    cmake --build build/engine -j"${JOBS:-$(nproc)}" --target rwkv-train; } > "$OUT/build.log" 2>&1
  rc=$?
  echo "build: exit $rc in $(( $(date +%s) - t )) s; $(grep -m1 'CUDA backend' "$OUT/build.log")"
  if [ $rc != 0 ]; then echo "BUILD FAILED"; tail -40 "$OUT/build.log"; exit 1; fi
fi
nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader || true
exec python3 "$HERE/multigpu_check.py" "$OUT"
