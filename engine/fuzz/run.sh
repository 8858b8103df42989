#!/usr/bin/env bash
# Builds the libFuzzer harnesses with clang (ASan + UBSan) outside the normal build and runs
# each for a while over its corpus, then merges new coverage-increasing inputs into
# engine/fuzz/corpus/<target> (kept small; replayed by the CTest fuzz_corpus_test).
# Usage: engine/fuzz/run.sh [seconds per target, default 180] [targets...]
# Needs clang with libFuzzer (Debian: apt-get install -y clang).
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_PER_TARGET="${1:-180}"
shift || true
TARGETS=("${@:-pth pickle binidx safetensors}")
[ "${#TARGETS[@]}" -eq 1 ] && read -r -a TARGETS <<< "${TARGETS[0]}"
OUT="build/fuzz"
mkdir -p "$OUT"
CORE="engine/core/pth.cpp engine/core/tensor.cpp engine/core/atomic_file.cpp engine/core/binidx.cpp engine/core/json.cpp engine/core/safetensors.cpp"
for t in "${TARGETS[@]}"; do
  if [ ! -x "$OUT/${t}_fuzz" ] || [ -n "$(find engine/core engine/fuzz -newer "$OUT/${t}_fuzz" -name '*.[ch]*' | head -1)" ]; then
    echo "building ${t}_fuzz"
    clang++ -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
      -Iengine "engine/fuzz/${t}_fuzz.cpp" $CORE -o "$OUT/${t}_fuzz"
  fi
  work="$OUT/corpus-$t"
  mkdir -p "$work" "engine/fuzz/corpus/$t"
  echo "fuzzing $t for ${SECONDS_PER_TARGET}s"
  "$OUT/${t}_fuzz" "$work" "engine/fuzz/corpus/$t" -max_total_time="$SECONDS_PER_TARGET" \
    -max_len=20000 -rss_limit_mb=2048 -timeout=10 -detect_leaks=0 -print_final_stats=1 2>&1 | tail -15
  # Keep only inputs that add coverage to the committed corpus.
  "$OUT/${t}_fuzz" -merge=1 "engine/fuzz/corpus/$t" "$work" -max_len=20000 -detect_leaks=0 2>&1 | tail -1
done
