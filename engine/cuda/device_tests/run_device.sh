#!/bin/bash
# Builds the CUDA kernels and kernel_check on the GPU machine and runs it. Usage (from the
# folder holding engine/): engine/cuda/device_tests/run_device.sh OUTDIR
set -o pipefail
OUT=${1:-/tmp/out}
mkdir -p "$OUT" /tmp/kc
nvcc -O3 -std=c++17 -arch=sm_90 -Iengine -Iengine/cuda/device_tests engine/cuda/*.cu \
  engine/cuda/device_tests/kernel_check.cu -o /tmp/kc/kernel_check -ldl 2>&1 | tee "$OUT/build.log" || exit 1
/tmp/kc/kernel_check 2>&1 | tee "$OUT/kernel_check.txt"
