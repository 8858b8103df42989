#!/bin/bash
# Shapes the server cannot follow statically: a function, a sourced env file, an array. It must
# say the words are unknown (dynamic), not guess.
printf 'LR=3e-4\n' > ./env.sh
source ./env.sh
EXTRA=(--n_layer 12 --n_embd 768)
python train.py --lr_init "$LR" "${EXTRA[@]}"
train() {
  python train.py --ctx_len 512 "$@"
}
train --micro_bsz 4
