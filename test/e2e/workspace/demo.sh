#!/bin/bash
# The demo: a tiny RWKV-7 (2 layers, 64 wide) trained with LoRA on the generated demo data, on
# the CPU. The end-to-end test runs it with Run Training and stops it while it trains.
load_model='demo/model.pth'
proj_dir='demo/out'
data_file='demo/data'
peft_config='{"r":8,"lora_alpha":16,"lora_dropout":0.0}'
export CUDA_VISIBLE_DEVICES=0
python train.py --load_model $load_model --proj_dir $proj_dir \
  --data_file $data_file --data_type binidx --vocab_size 65536 \
  --n_layer 2 --n_embd 64 --ctx_len 64 --micro_bsz 2 \
  --epoch_steps 100000 --epoch_count 1 --epoch_save 1 \
  --lr_init 1e-3 --lr_final 1e-4 --warmup_steps 10 \
  --accelerator cpu --precision fp32 --devices 1 \
  --my_testing "x070" --peft lora --peft_config $peft_config
