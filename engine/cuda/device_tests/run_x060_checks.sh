#!/bin/bash
# One device call for the GPU's RWKV-6 (x060) path, which stays off (core/gpu_switches.h,
# RWKV_CUDA_X060) until this passes: kernel_check (its wkv6 / ddlerp_combine / mul_add /
# act.silu cases and TIME wkv6 among every other kernel's) while model_check builds, then
# model_check's x060 cases alone with the switch on (one whole step per method with grad_cp 0
# and 1, the grad_cp and pass self-checks, T 50, STEPS-step curves against the CPU backend).
# Outputs straight under OUTDIR so a call killed at its limit still returns them.
# Usage, from the repository root: engine/cuda/device_tests/run_x060_checks.sh OUTDIR [STEPS]
OUT=${1:?usage: run_x060_checks.sh OUTDIR [STEPS]}; STEPS=${2:-100}
t0=$(date +%s); since() { echo "$(( $(date +%s) - t0 )) s"; }
mkdir -p "$OUT" /tmp/kc_out /tmp/mc_out
engine/cuda/device_tests/run_model_check.sh /tmp/mc_out 0 > /tmp/mc_out/console.txt 2>&1 &
mc_build=$!
engine/cuda/device_tests/run_device.sh /tmp/kc_out > /dev/null 2>&1
cp /tmp/kc_out/kernel_check.txt "$OUT/" 2>/dev/null || tail -30 /tmp/kc_out/build.log
grep -E "wkv6|ddlerp|mul_add|act.silu|FAIL|SUMMARY|ERROR" "$OUT/kernel_check.txt" | head -60
echo "kernel_check done at $(since)"
wait $mc_build || { echo "model_check BUILD FAILED"; tail -30 /tmp/mc_out/build.log; exit 1; }
RWKV_CUDA_X060=1 /tmp/mc/model_check "$STEPS" x060 > "$OUT/model_check_x060.txt" 2>&1
echo "== model_check x060 (exit $?) at $(since)"
grep -E "FAIL|SUMMARY|ERROR|CHECK loss|curve" "$OUT/model_check_x060.txt" | head -60
