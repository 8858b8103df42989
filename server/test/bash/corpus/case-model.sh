#!/bin/bash
# A community script: the model version picked in a case arm (one arm sets the flag, one clears it).
MODEL=v7
case "$MODEL" in
  v6)
    V6_TRAIN="--my_testing x060"
    ;;
  v7) V6_TRAIN="--my_testing x070" ;;
  *) V6_TRAIN="" ;;
esac
python train.py --load_model models/rwkv7-g1-0.4b.pth --n_layer 24 --n_embd 1024 \
  --data_file data/demo --data_type binidx --vocab_size 65536 $V6_TRAIN --peft lora
