#!/bin/bash
# One device call for the GPU's RWKV-6 (x060) path, which stays off (core/gpu_switches.h,
# RWKV_CUDA_X060) until this passes: kernel_check (its wkv6 / ddlerp_combine / mul_add /
# act.silu cases and TIME wkv6 among every other kernel's) while model_check builds, then
# model_check's x060 cases alone with the switch on (one whole step per method with grad_cp 0
# and 1, the grad_cp and pass self-checks, T 50, STEPS-step curves against the CPU backend).
# The steps are run_checks_and_bench.sh's, with its x070 checks and the bench left out.
# Usage, from the repository root: engine/cuda/device_tests/run_x060_checks.sh OUTDIR [STEPS]
OUT=${1:?usage: run_x060_checks.sh OUTDIR [STEPS]}
CHECK_SWITCHES="" X060=1 X060_STEPS=${2:-100} exec "$(dirname "$0")/run_checks_and_bench.sh" "$OUT"
