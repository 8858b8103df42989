#!/bin/bash
# The demo: a tiny RWKV-7 (2 layers, 128 wide, byte vocabulary) trained from random weights on
# a generated corpus of sentences and sums, on the CPU. The end-to-end test makes the model and
# data with the engine, then runs this with Run Training and stops it while it trains.
load_model='demo/model.pth'
proj_dir='demo/out'
data_file='demo/data'
magic_prime=0
export CUDA_VISIBLE_DEVICES=0
python train.py --load_model $load_model --proj_dir $proj_dir \
  --data_file $data_file --data_type binidx --vocab_size 256 \
  --n_layer 2 --n_embd 128 --ctx_len 64 --micro_bsz 8 \
  --epoch_steps 1000 --epoch_count 100 --epoch_save 1 \
  --lr_init 3e-3 --lr_final 3e-4 --warmup_steps 10 --magic_prime $magic_prime \
  --my_testing "x070" --accelerator cpu --precision fp32 --strategy deepspeed_stage_2 --grad_cp 0
