#!/bin/bash
# A wrapper: its own arguments go to train.py (run here with none).
python train.py --load_model models/rwkv7-g1-0.4b.pth --n_layer 24 --n_embd 1024 --micro 2 --epoch_step 800 "$@"
