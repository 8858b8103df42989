#!/bin/bash
# One device call with a dist/bin/rwkv-train built beforehand (carried): kernel_check and the
# model_check build in parallel, model_check with each switch in CHECK_SWITCHES (one output file
# each, straight under OUTDIR so a call killed at its limit still returns them), then
# `npm run bench`'s engine bench (ours through the real CLI, RWKV-PEFT eager grad_cp 1 in the
# same run) on BENCH_CONFIGS, reading the GEMM rate and the WKV7 timings from this call's
# kernel_check; then, when asked, tutorial ROWS through the CLI and the pretraining tutorial for
# PRETRAIN_S seconds (pretrain.tgz). Needs the carried .devtools/node.xz (node for the bench) and
# .peer; FLA_S>0 times flash-linear-attention's chunk_rwkv7 from the carried .fla (fla_tree.py
# builds it) after the bench, for at most FLA_S seconds (fla_time.txt; Triton compiles first).
# Usage, from the repository root:
#   CHECK_SWITCHES="plain RWKV_CUDA_WKV7_CHUNKED" X060=1 QUANT_CURVES=1 BENCH_CONFIGS=a,b \
#     engine/cuda/device_tests/run_checks_and_bench.sh OUTDIR [STEPS]
OUT=${1:?usage: run_checks_and_bench.sh OUTDIR [STEPS]}; STEPS=${2:-200}
t0=$(date +%s); since() { echo "$(( $(date +%s) - t0 )) s"; }
# DEADLINE_S: the later steps run only while this many seconds after the start leave them room
# (each step's own limit), so a short call still returns the checks.
left() { echo $(( ${DEADLINE_S:-560} - ($(date +%s) - t0) )); }
fits() { [ "$(left)" -ge "$1" ] || { echo "skipped: $2 (needs $1 s, $(left) s left)"; return 1; }; }
mkdir -p "$OUT" /tmp/kc_out /tmp/mc_out
[ -f .devtools/node.xz ] && xz -dc .devtools/node.xz > /tmp/node && chmod +x /tmp/node
engine/cuda/device_tests/run_model_check.sh /tmp/mc_out 0 > /tmp/mc_out/console.txt 2>&1 &
mc_build=$!
timeout ${KC_TIMEOUT:-240} engine/cuda/device_tests/run_device.sh /tmp/kc_out > /dev/null 2>&1  # a hung kernel must not eat the call
cp /tmp/kc_out/kernel_check.txt "$OUT/" 2>/dev/null || tail -30 /tmp/kc_out/build.log
grep -E "FAIL|SUMMARY|TIME wkv7|TIME gemm_bf16" "$OUT/kernel_check.txt" | head -30
echo "kernel_check done at $(since)"
wait $mc_build || { echo "model_check BUILD FAILED"; tail -30 /tmp/mc_out/build.log; }
for sw in ${CHECK_SWITCHES-plain}; do  # CHECK_SWITCHES="": no whole-model x070 checks
  if [ "$sw" = plain ]; then env_args=(); name=model_check.txt
  else env_args=("$sw=1"); name=model_check_${sw#RWKV_CUDA_}.txt; fi
  timeout ${MC_TIMEOUT:-150} env "${env_args[@]}" /tmp/mc/model_check "$STEPS" > "$OUT/$name" 2>&1
  echo "== $name (exit $?) at $(since)"
  grep -E "FAIL|SUMMARY|ERROR|curve" "$OUT/$name" | head -40
done
if [ "${X060:-0}" = 1 ]; then  # RWKV-6 on the GPU (behind RWKV_CUDA_X060)
  timeout ${MC_TIMEOUT:-150} env RWKV_CUDA_X060=1 /tmp/mc/model_check "${X060_STEPS:-100}" x060 > "$OUT/model_check_x060.txt" 2>&1
  echo "== model_check_x060.txt (exit $?) at $(since)"
  grep -E "FAIL|SUMMARY|ERROR|curve" "$OUT/model_check_x060.txt" | head -40
fi
if [ "${QUANT_CURVES:-0}" = 1 ] && fits ${QUANT_CURVES_S:-150} "quant curves"; then  # --quant none/int8/nf4: 200-step LoRA curves and speed
  speed=(); [ -n "${QUANT_SPEED:-}" ] && speed=(--speed-layers ${QUANT_SPEED% *} --speed-embd ${QUANT_SPEED#* })  # "L D"
  PYTHONUNBUFFERED=1 timeout ${QUANT_CURVES_S:-150} python3 test/bench/quant_curves.py /tmp/quant_out \
    "${speed[@]}" > /tmp/quant_console.txt 2>&1
  echo "quant curves exit $? at $(since)"; cp /tmp/quant_out/quant_curves.md "$OUT/" 2>/dev/null || tail -20 /tmp/quant_console.txt
  cat "$OUT/quant_curves.md" 2>/dev/null
fi
if [ -n "${BENCH_CONFIGS:-}" ] && fits 120 "bench"; then
  BENCH_SKIP_BUILD=1 BENCH_KERNEL_CHECK_FILE="$OUT/kernel_check.txt" BENCH_PEER_MODES=${BENCH_PEER_MODES:-eager_gcp1} \
    BENCH_FLA_DIR=/nonexistent BENCH_OUT=/tmp/bench_out BENCH_LABEL=${BENCH_LABEL:-device} BENCH_CONFIGS="$BENCH_CONFIGS" \
    timeout $(( $(left) < ${BENCH_TIMEOUT:-400} ? $(left) - 20 : ${BENCH_TIMEOUT:-400} )) /tmp/node test/bench/engine.bench.mjs > "$OUT/bench_console.txt" 2>&1
  echo "bench exit $? at $(since)"; tail -40 "$OUT/bench_console.txt"
  # the table is in bench_console.txt; its JSON and the peer's logs go to extra.tgz
fi
if [ "${FLA_S:-0}" -gt 0 ] && [ -d .fla ] && fits 30 "fla"; then
  PYTHONUNBUFFERED=1 timeout $(( $(left) < FLA_S ? $(left) - 5 : FLA_S )) python3 engine/cuda/device_tests/peer_fla_time.py .fla > "$OUT/fla_time.txt" 2>&1
  echo "fla exit $? at $(since)"; grep -E "FLA_TIME|Error" "$OUT/fla_time.txt" | head -12
fi
if [ -n "${ROWS:-}" ]; then  # tutorial rows through the real CLI (cli_rows.py names)
  SKIP_BUILD=1 DEADLINE_S=${ROWS_DEADLINE_S:-200} ROWS="$ROWS" engine/cuda/device_tests/run_cli_rows.sh /tmp/rows_out > /tmp/rows_out.console 2>&1
  cp /tmp/rows_out/cli_rows.md "$OUT/" 2>/dev/null || tail -20 /tmp/rows_out.console
  cat "$OUT/cli_rows.md" 2>/dev/null; echo "rows done at $(since)"
fi
if [ -n "${PRETRAIN_S:-}" ]; then  # the pretraining tutorial's scripts through the GPU backend
  ENGINE=dist/bin/rwkv-train test/bench/pretrain-tutorial-gpu.sh /tmp/pretrain_out "$PRETRAIN_S" > /tmp/pretrain_console.txt 2>&1
  tar -czf "$OUT/pretrain.tgz" -C /tmp pretrain_out pretrain_console.txt
  tail -25 /tmp/pretrain_console.txt; echo "pretrain done at $(since)"
fi
# At most 8 files come back: everything else of this call in one archive.
tar -czf "$OUT/extra.tgz" -C /tmp bench_out quant_out quant_console.txt mc_out/build.log kc_out/build.log 2>/dev/null
echo "all done at $(since)"
