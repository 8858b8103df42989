#!/bin/bash
# The tutorials' memory rows through the real CLI: builds dist/bin/rwkv-train with the project's
# own CMake (sm_90 only), makes random x070 checkpoints with `rwkv-train init` (cached under
# $CACHE, default /tmp/rwkv_cli_rows) and a random-token binidx, runs each row with the
# tutorial script's flags for a few steps while sampling nvidia-smi, and writes
# OUTDIR/cli_rows.md + OUTDIR/cli_rows.json (and prints the table). See cli_rows.py.
#
# Usage, from anywhere in the repo: engine/cuda/device_tests/run_cli_rows.sh OUTDIR
# Environment:
#   ROWS=lora-0.1b,state-*   rows to run, in the order of the patterns (shell patterns; default all 24, in run order:
#                            lora/state/miss/pissa/pretrain per size, oom-1.5b, then pissa-1.5b/2.9b)
#   ACCEL=cpu                train on the CPU (implies SIZES_TINY=1): a test of this script
#   SIZES_TINY=1             tiny models (L2-4, D64-192, ctx 32/64) instead of 0.1B..2.9B
#   STEPS=8                  optimizer steps a row (tokens/s: median after the first 2)
#   DEADLINE_S=400           rows whose estimate would end past this many seconds after the
#                            script started are skipped (and say so); the build counts
#   ROW_TIMEOUT=120          seconds before a run is killed (`timeout`; never more than a
#                            minute past DEADLINE_S)
#   SAVE_WAIT=20             seconds a run may spend after its last step (final checkpoint,
#                            resume file) before it is killed; its measurements stand
#   OOM_CODE=E_CUDA_OOM      the error code the planted OOM row must end with
#   SKIP_BUILD=1             use the dist/bin/rwkv-train already there
#   CACHE=/tmp/rwkv_cli_rows models, data and run folders
set -u -o pipefail
OUT=${1:?usage: run_cli_rows.sh OUTDIR}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
cd "$ROOT" || exit 1
export CLI_ROWS_T0=${CLI_ROWS_T0:-$(date +%s)}
ACCEL=${ACCEL:-gpu}

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  t=$(date +%s)
  if [ "$ACCEL" = cpu ]; then
    CUDA_FLAGS=(-DRWKV_WITH_CUDA=OFF)
  else
    CUDA_FLAGS=(-DRWKV_WITH_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCH:-90}")
  fi
  # The Node addon is optional in CMake (engine/addon/addon.cmake skips it without node_api.h /
  # node-addon-api), so this configures on a machine without node.
  { cmake -S engine -B build/engine -DCMAKE_BUILD_TYPE=Release "${CUDA_FLAGS[@]}" &&
    cmake --build build/engine -j"${JOBS:-$(nproc)}" --target rwkv-train; } > "$OUT/build.log" 2>&1
  rc=$?
  echo "build: exit $rc in $(( $(date +%s) - t )) s; $(grep -m1 'CUDA backend' "$OUT/build.log")"
  if [ $rc != 0 ]; then echo "BUILD FAILED"; tail -40 "$OUT/build.log"; exit 1; fi
  if [ "$ACCEL" != cpu ] && ! grep -q 'CUDA backend ON' "$OUT/build.log"; then
    echo "WARNING: built WITHOUT the CUDA backend (nvcc not found?): every GPU row will fail with E_NO_CUDA"
  fi
fi
ls -l dist/bin/rwkv-train || exit 1
export ACCEL
exec python3 "$HERE/cli_rows.py" "$OUT"
