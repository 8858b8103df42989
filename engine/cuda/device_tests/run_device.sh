#!/bin/bash
# Builds the CUDA kernels and kernel_check on the GPU machine and runs it. Usage (from the
# folder holding engine/): engine/cuda/device_tests/run_device.sh OUTDIR
set -o pipefail
OUT=${1:-/tmp/out}
mkdir -p "$OUT" /tmp/kc
# The kernels only: cuda_model.cu / cuda_backend.cu assemble the model and need the core
# library (run_model_check.sh builds those), nccl_communicator.cu needs engine/dist (the CLI's
# multi-GPU run). core/quant.cpp (+ tensor.cpp's bf16 rounding) is the dequantising kernel's
# CPU twin; cpu/x060_ops.cpp (+ cpu/ops.cpp) is the CPU backend's WKV6, the WKV6 kernel's.
KERNELS=$(ls engine/cuda/*.cu | grep -v -e cuda_model.cu -e cuda_backend.cu -e nccl_communicator.cu)
# One nvcc per source, all at once (the GPU machine has 16 cores; one nvcc for them all compiles
# them one after another), then one link.
pids=()
for src in $KERNELS engine/cuda/device_tests/kernel_check.cu engine/core/quant.cpp engine/core/tensor.cpp \
           engine/cpu/ops.cpp engine/cpu/x060_ops.cpp; do
  obj=/tmp/kc/$(echo "$src" | tr '/' '_').o
  nvcc -O3 -std=c++17 -arch=sm_90 -Iengine -Iengine/cuda/device_tests -x $([[ $src == *.cu ]] && echo cu || echo c++) \
    -c "$src" -o "$obj" > "$obj.log" 2>&1 &
  pids+=($!)
done
ok=1; for p in "${pids[@]}"; do wait $p || ok=0; done
cat /tmp/kc/*.o.log > "$OUT/build.log"
[ $ok = 1 ] || { echo "BUILD FAILED"; tail -50 "$OUT/build.log"; exit 1; }
nvcc -arch=sm_90 /tmp/kc/*.o -o /tmp/kc/kernel_check -ldl 2>&1 | tee -a "$OUT/build.log" || exit 1
/tmp/kc/kernel_check 2>&1 | tee "$OUT/kernel_check.txt"
