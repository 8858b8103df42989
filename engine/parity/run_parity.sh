#!/usr/bin/env bash
# PyTorch parity on the GPU machine (device tool). Run from the lead checkout's root with this
# branch's tree copied to .device/cpu/repo and the RWKV-PEFT peer carried as .peer:
#   bash .device/cpu/repo/engine/parity/run_parity.sh
# Builds the engine (CPU backend; CUDA off: this checks the CPU oracle), builds parity_dump
# against it, and runs parity.py; $OUT gets parity.json and parity.log.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
PEER=$(pwd)/.peer
OUT=${OUT:-/tmp/parity-out}
WORK=/tmp/rwkv-parity-work   # checkpoints and tensors stay here; only the report goes to $OUT
rm -rf "$WORK"; mkdir -p "$OUT" "$WORK"
B=/tmp/rwkv-parity-build
t0=$(date +%s)
cmake -S "$REPO/engine" -B "$B" -DCMAKE_BUILD_TYPE=Release -DRWKV_WITH_CUDA=OFF -DRWKV_DIST_DIR="$B/dist" > "$WORK/cmake.log" 2>&1 \
  || { tail -30 "$WORK/cmake.log"; exit 1; }
cmake --build "$B" -j "$(nproc)" --target rwkv-train > "$WORK/build.log" 2>&1 || { tail -40 "$WORK/build.log"; exit 1; }
g++ -O3 -fopenmp -std=c++17 -I"$REPO/engine" "$REPO/engine/parity/parity_dump.cpp" -o "$B/parity_dump" \
  -L"$B" -Wl,--start-group "$B/librwkv_train.a" "$B/librwkv_cpu.a" "$B/librwkv_core.a" -Wl,--end-group -lpthread
echo "build: $(( $(date +%s) - t0 )) s"
python3 -c "import torch, sys; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'python', sys.version.split()[0])"
set +e
python3 "$REPO/engine/parity/parity.py" "$PEER" "$B/dist/bin/rwkv-train" "$B/parity_dump" "$WORK" 2>&1 | tee "$OUT/parity.log"
rc=${PIPESTATUS[0]}
cp "$WORK/parity.json" "$OUT/" 2>/dev/null
python3 "$REPO/engine/parity/parity_infctx.py" "$PEER" "$B/dist/bin/rwkv-train" "$B/parity_dump" "$WORK" 2>&1 | tee "$OUT/parity_infctx.log"
[ "${PIPESTATUS[0]}" = 0 ] || rc=1
cp "$WORK/parity_infctx.json" "$OUT/" 2>/dev/null
exit $rc
