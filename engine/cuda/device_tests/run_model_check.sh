#!/bin/bash
# Builds the engine's model sources (core, CPU backend, CUDA backend, the x070 initialiser) with
# nvcc on the GPU machine and runs model_check (CUDA backend vs CPU backend). Usage, from the
# folder holding engine/: engine/cuda/device_tests/run_model_check.sh OUTDIR [STEPS] [--bench]
# STEPS 0 builds only (the binary is /tmp/mc/model_check; test/bench/engine.bench.mjs runs its
# --bench mode per configuration); --bench also times 0.1B LoRA 1024x8 and full 4096x8.
# RWKV_CUDA_X060=1 in the environment adds the RWKV-6 (x060) cases (the GPU's x060 path is off
# until they pass on a device, core/gpu_switches.h); /tmp/mc/model_check STEPS x060 runs them alone.
set -o pipefail
OUT=${1:-/tmp/out}; STEPS=${2:-200}; BENCH=$3
B=/tmp/mc; mkdir -p "$OUT" $B
{ printf 'namespace rwkv { extern const char* const kFlagTableJson = R"rwkvflags('
  cat server/src/flags/flags.json 2>/dev/null || echo '{}'
  printf ')rwkvflags"; }\n'; } > $B/flag_table_json.cpp
FLAGS="-O2 -std=c++17 -arch=sm_90 -Iengine -DRWKV_HAVE_CUDA=1 -DRWKV_STUDIO_VERSION=\"dev\" -DRWKV_ENGINE_DATA_DIR=\"engine/data\" -Xcompiler -fopenmp"
srcs=(engine/core/*.cpp engine/cpu/*.cpp engine/train/init_weights.cpp engine/train/infctx.cpp engine/dist/nccl_loader.cpp engine/cuda/*.cu engine/cuda/device_tests/model_check.cu $B/flag_table_json.cpp)
pids=()
for s in "${srcs[@]}"; do
  o=$B/$(echo "$s" | tr '/' '_').o
  nvcc $FLAGS -x $([[ $s == *.cu ]] && echo cu || echo c++) -c "$s" -o "$o" >"$o.log" 2>&1 &
  pids+=($!)
done
ok=1; for p in "${pids[@]}"; do wait $p || ok=0; done
cat $B/*.log > "$OUT/build.log"
[ $ok = 1 ] || { echo "BUILD FAILED"; tail -50 "$OUT/build.log"; exit 1; }
nvcc -arch=sm_90 $B/*.o -o $B/model_check -ldl -lgomp 2>&1 | tee -a "$OUT/build.log" || exit 1
rc=0
if [ "$STEPS" != 0 ]; then $B/model_check "$STEPS" 2>&1 | tee "$OUT/model_check.txt"; rc=$?; fi
if [ -n "$BENCH" ]; then
  $B/model_check --bench 12 768 1024 8 lora 12 2>&1 | tee "$OUT/model_bench.txt"
  $B/model_check --bench 12 768 4096 8 none 8 2>&1 | tee -a "$OUT/model_bench.txt"
fi
exit $rc
