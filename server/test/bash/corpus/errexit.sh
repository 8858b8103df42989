#!/bin/bash
# `set -e` and calls that lost a trailing \: bash runs the next flag line as a command, which
# fails (command not found), and under set -e that stops the script, unless the failure is
# tested (|| ...) or set +e is in force. The "continuation dropped" mutation cuts the first call.
set -euo pipefail
python train.py --n_layer 12 \
  --n_embd 768 --ctx_len 512
set +e
python train.py --n_layer 24
  --n_embd 2048
python train.py --n_layer 32 --n_embd 2560
set -o errexit
python train.py --micro_bsz 2
  --ctx_len 1024 || echo "that line failed"
{ python train.py --micro_bsz 3
  --ctx_len 1536; }
python train.py --micro_bsz 4 \
  --ctx_len 2048
python train.py --micro_bsz 8
  --ctx_len 4096
python train.py --micro_bsz 16
