#!/bin/bash
# A script with mistakes, for the diagnostics part of the end-to-end test.
python train.py --load_model demo/model.pth --proj_dir demo/out \
  --data_file demo/data --data_type binidx --vocab_size 65536 \
  --n_layer 2 --n_embd 64 --ctx_len 64 --micro_bsz 2 \
  --precision bf17 --accelerator gpu --my_testing "x070" \
  --peft lora --peft_config '{"r":8,"lora_alpha":16,"lora_dropout":0.0}'
