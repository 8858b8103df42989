#!/usr/bin/env bash
# PyTorch parity on THIS machine's CPU (no GPU needed): RWKV-PEFT's model code in fp32/fp64 on
# the CPU against our CPU backend, for the plain path (parity.py), for --train_type infctx
# (parity_infctx.py) and for RWKV-6 (parity_x060.py, RWKV-PEFT's rwkvt/rwkv6). Needs a Python
# with torch (Debian's python3-torch 1.13 works) and the peer tree at .peer (extracted and
# patched as ../shared/peer/README.md says; never committed).
# Debian's torch 1.13 lacks torch.compile and einops, which the peer imports: a throw-away shim
# folder provides an identity torch.compile and an einops stub (used only by DiSHA, not checked).
#   bash engine/parity/run_parity_local.sh [OUT_DIR]   (default engine/parity/results/cpu_local)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${1:-$ROOT/engine/parity/results/cpu_local}
PY=${PYTHON:-/usr/bin/python3}
[ -d "$ROOT/.peer/RWKV-PEFT" ] || { echo "no peer tree at .peer (see ../shared/peer/README.md)"; exit 2; }
"$PY" -c "import torch" || { echo "$PY cannot import torch"; exit 2; }
[ -x "$ROOT/dist/bin/rwkv-train" ] || (cd "$ROOT" && npm run build:engine)
cmake --build "$ROOT/build/engine" --target parity_dump -j2 >/dev/null
SHIMS=$(mktemp -d); WORK=$(mktemp -d); trap 'rm -rf "$SHIMS" "$WORK"' EXIT
mkdir -p "$SHIMS/einops" "$OUT"
echo 'def rearrange(*a, **k): raise NotImplementedError("einops stub (parity shims)")' > "$SHIMS/einops/__init__.py"
cat > "$SHIMS/sitecustomize.py" <<'PY'
import torch
if not hasattr(torch, "compile"):
    torch.compile = lambda fn=None, **_k: fn if fn is not None else (lambda f: f)
PY
export PYTHONPATH="$SHIMS${PYTHONPATH:+:$PYTHONPATH}"
DUMP="$ROOT/build/engine/tools/parity_dump"
rc=0
(cd "$WORK" && "$PY" "$ROOT/engine/parity/parity.py" "$ROOT/.peer" "$ROOT/dist/bin/rwkv-train" "$DUMP" "$WORK") 2>&1 | tee "$OUT/parity.log" || rc=1
cp "$WORK/parity.json" "$OUT/" 2>/dev/null || true
(cd "$WORK" && "$PY" "$ROOT/engine/parity/parity_infctx.py" "$ROOT/.peer" "$ROOT/dist/bin/rwkv-train" "$DUMP" "$WORK") 2>&1 | tee "$OUT/parity_infctx.log" || rc=1
cp "$WORK/parity_infctx.json" "$OUT/" 2>/dev/null || true
(cd "$WORK" && "$PY" "$ROOT/engine/parity/parity_x060.py" "$ROOT/.peer" "$ROOT/dist/bin/rwkv-train" "$DUMP" "$WORK") 2>&1 | tee "$OUT/parity_x060.log" || rc=1
cp "$WORK/parity_x060.json" "$OUT/" 2>/dev/null || true
exit $rc
