#!/bin/bash
# One device call: builds the real CLI with the project's CMake (sm_90 only) in the background
# while the kernel checks and the whole-model checks (every method, grad_cp 0 and 1, 200-step
# curves against the CPU backend) build and run; a 1.5B LoRA step's memory with grad_cp 0 and 1;
# then, until DEADLINE_S after the start, the tutorials' rows through the real CLI
# (run_cli_rows.sh). At most 8 files come back from a device call, so OUTDIR gets: the three
# check outputs, the CLI rows table (.md, .json), dist/bin/rwkv-train (for a later call to
# reuse) and logs.tgz with everything else.
# Usage, from the repository root: engine/cuda/device_tests/run_correctness.sh OUTDIR [STEPS]
OUT=${1:-/tmp/out}; STEPS=${2:-200}
W=/tmp/rwkv_device_work; rm -rf $W; mkdir -p "$OUT" $W/logs
export CLI_ROWS_T0=$(date +%s)
t0=$CLI_ROWS_T0
( cmake -S engine -B build/engine -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 > $W/logs/cmake.log 2>&1 &&
  cmake --build build/engine -j6 --target rwkv-train >> $W/logs/cmake.log 2>&1; echo "CMAKE_RC=$?" >> $W/logs/cmake.log ) &
cmake_pid=$!
if [ "${KERNEL_CHECK:-1}" = 1 ]; then  # KERNEL_CHECK=0: kernels unchanged since their last check
  engine/cuda/device_tests/run_device.sh $W/kc > /dev/null 2>&1
  cp $W/kc/kernel_check.txt "$OUT/" 2>/dev/null; cp $W/kc/build.log $W/logs/kernel_build.log 2>/dev/null
  grep -E "FAIL|SUMMARY|ERROR|TIME wkv7" "$OUT/kernel_check.txt" | head -30
  echo "kernel checks done at $(( $(date +%s) - t0 )) s"
fi

engine/cuda/device_tests/run_model_check.sh $W/mc "$STEPS" > /dev/null 2>&1
cp $W/mc/model_check.txt "$OUT/" 2>/dev/null; cp $W/mc/build.log $W/logs/model_build.log 2>/dev/null
grep -E "FAIL|SUMMARY|ERROR|CHECK.*curve|CHECK allocator" "$OUT/model_check.txt" | head -60
echo "model checks done at $(( $(date +%s) - t0 )) s"
if [ "${MODEL_BENCH:-1}" = 1 ]; then
  for args in "1024 8 lora 6 0" "1024 8 lora 6 1" "1024 1 lora 6 1"; do
    /tmp/mc/model_check --bench 24 2048 $args 2>&1 | grep -E "^BENCH |ERROR" | tee -a "$OUT/model_bench.txt"
  done
fi
wait $cmake_pid
tail -2 $W/logs/cmake.log
[ -x dist/bin/rwkv-train ] && cp dist/bin/rwkv-train "$OUT/"
echo "build + checks done at $(( $(date +%s) - t0 )) s"
if [ "${CLI_ROWS:-1}" = 1 ] && [ -x dist/bin/rwkv-train ]; then
  SKIP_BUILD=1 DEADLINE_S=${DEADLINE_S:-540} ROWS=${ROWS:-} engine/cuda/device_tests/run_cli_rows.sh $W/cli > $W/logs/cli_console.txt 2>&1
  cp $W/cli/cli_rows.md $W/cli/cli_rows.json "$OUT/" 2>/dev/null
  cat "$OUT/cli_rows.md" 2>/dev/null || tail -30 $W/logs/cli_console.txt
  cp -r $W/cli/rows $W/logs/ 2>/dev/null
fi
tar -czf "$OUT/logs.tgz" -C $W logs 2>/dev/null
echo "all done at $(( $(date +%s) - t0 )) s"
