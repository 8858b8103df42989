#!/bin/bash
cat > /dev/null <<EOF2
python train.py --this_is_not_a_run 1
EOF2
ARGS="--n_layer 6 --n_embd 512"
python train.py $ARGS --micro_bsz 2 # trailing comment --fake 1
python train.py --n_layer 6 \
  --n_embd 512 ; python train.py --ctx_len 256
