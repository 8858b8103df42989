#!/bin/bash
# The version comes from the command line: which arm runs is known only at run time.
case "$1" in
  v6) V6_TRAIN="--my_testing x060" ;;
  v7|x070) V6_TRAIN="--my_testing x070" ;;
esac
python train.py --n_layer 12 --n_embd 768 $V6_TRAIN
