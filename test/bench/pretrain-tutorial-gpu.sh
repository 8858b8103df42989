#!/bin/bash
# The pretraining tutorial's scripts at its own sizes (L12-D768, CTX_LEN 4096, M_BSZ 16) through
# the CUDA backend, on the GPU machine: build rwkv-train with CUDA, make_data on a generated
# jsonl (World tokenizer, vocab 65536), demo-training-prepare.sh (only rwkv-init.pth), then
# demo-training-run.sh stopped by SIGTERM after STEPS_S seconds. A mini-epoch there is 2520 steps
# (165M tokens), so this shows start-up, the learning rate, speed, memory and a clean stop;
# the continue/SIGKILL flow is test/unit/pretrainTutorial.test.ts on the CPU.
# Usage (repository root, on the device): [ENGINE=dist/bin/rwkv-train] test/bench/pretrain-tutorial-gpu.sh OUTDIR [STEPS_S]
set -o pipefail
OUT=${1:-/tmp/out}
RUN_S=${2:-150}
ROOT=$(pwd)
mkdir -p "$OUT"
stamp() { echo "$(date +%T) $*" >> "$OUT/timeline.txt"; }
stamp start
# ENGINE=path: a CUDA rwkv-train built earlier in the same device call (no second build).
if [ -z "${ENGINE:-}" ]; then
  B=/tmp/rwkv-gpu-build
  cmake -S engine -B $B -DCMAKE_BUILD_TYPE=Release -DRWKV_WITH_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DRWKV_DIST_DIR=/tmp/rwkv-gpu-dist > "$OUT/build.log" 2>&1 &&
    cmake --build $B -j"$(nproc)" --target rwkv-train >> "$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log"; exit 1; }
  ENGINE=/tmp/rwkv-gpu-dist/bin/rwkv-train
fi
ENGINE=$(cd "$(dirname "$ENGINE")" && pwd)/$(basename "$ENGINE")
stamp built
W=/tmp/rwkv-lm-v7 && rm -rf $W && mkdir -p $W/data $W/.bin
cat > $W/.bin/python <<EOF
#!/bin/sh
case "\$1" in
  train.py) shift; exec "$ENGINE" "\$@" ;;
  make_data.py) shift; exec "$ENGINE" make-data "\$@" ;;
esac
exit 2
EOF
chmod +x $W/.bin/python
export PATH=$W/.bin:$PATH
# 24000 lines of arithmetic (as the tutorial's arithmetic model), 30 copies
awk 'BEGIN { srand(7); for (i = 0; i < 24000; i++) { t = ""; for (j = 0; j < 3; j++) { a = int(rand() * 100); b = int(rand() * 100);
  t = t sprintf("%d+%d=%d, ", a, b, a + b) } printf("{\"text\": \"User: %s\\n\\nAssistant: ok\"}\n", t) } }' > $W/data/demo.jsonl
(cd $W/data && python make_data.py demo.jsonl 30 4096) > "$OUT/make_data.txt" 2>&1 || { cat "$OUT/make_data.txt"; exit 1; }
EXIT_TOKENS=$(grep -o '"my_exit_tokens":[0-9]*' "$OUT/make_data.txt" | cut -d: -f2)
PRIME=$(grep -o '"magic_prime":[0-9]*' "$OUT/make_data.txt" | cut -d: -f2)
edit() {  # the tutorial's edits: data_file stays data/demo; my_exit_tokens and magic_prime from make_data
  sed -e "s/--my_exit_tokens [0-9]*/--my_exit_tokens $EXIT_TOKENS/" -e "s/--magic_prime [0-9]*/--magic_prime $PRIME/" "$1"
}
edit "$ROOT/server/test/fixtures/tutorials/pretrain-prepare.sh" > $W/demo-training-prepare.sh
edit "$ROOT/server/test/fixtures/tutorials/pretrain-run.sh" > $W/demo-training-run.sh
cd $W
stamp data made
bash demo-training-prepare.sh > "$OUT/prepare.jsonl" 2> "$OUT/prepare.stderr"; echo "prepare exit $?" | tee "$OUT/summary.txt"
ls out/L12-D768-x070 | tee -a "$OUT/summary.txt"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader >> "$OUT/summary.txt"
run() {  # demo-training-run.sh, SIGTERM (to bash and the engine) after RUN_S seconds
  timeout -s TERM "$RUN_S" bash demo-training-run.sh > "$OUT/run.jsonl" 2> "$OUT/run.stderr"; echo "run exit $?" | tee -a "$OUT/summary.txt"
  for i in $(seq 60); do grep -q '"event":"end"' "$OUT/run.jsonl" && break; sleep 1; done
}
stamp run
run
stamp stopped
if grep -q E_GPU_OOM "$OUT/run.jsonl"; then  # the tutorial's own advice: lower M_BSZ
  echo "M_BSZ 16 ran out of memory; M_BSZ 8" | tee -a "$OUT/summary.txt"
  sed -i 's/^M_BSZ=.*/M_BSZ="8"/' demo-training-run.sh
  run
fi
ls out/L12-D768-x070 | tee -a "$OUT/summary.txt"
grep -E '"event":"(warning|error|end)"' "$OUT/run.jsonl" | cut -c1-400 >> "$OUT/summary.txt"
tail -c 2000 "$OUT/run.stderr" >> "$OUT/summary.txt"
cat "$OUT/summary.txt"
