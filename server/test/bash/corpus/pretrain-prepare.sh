#!/bin/bash
# RWKV-LM-V7 pretraining tutorial (seeds/004): demo-training-prepare.sh with the tutorial's
# values. make_data.py demo.jsonl 30 4096 printed the token count and magic_prime used below.
MODEL_TYPE="x070" # x070 => rwkv-7.0
N_LAYER="12"
N_EMBD="768"
CTX_LEN="4096" # change magic_prime if you change ctx_len
PROJ_DIR="out/L"$N_LAYER"-D"$N_EMBD"-"$MODEL_TYPE

python train.py --wandb "" --proj_dir $PROJ_DIR \
 --data_file "data/demo" --data_type "binidx" --vocab_size 65536 --my_testing $MODEL_TYPE \
 --ctx_len $CTX_LEN --train_stage 1 --epoch_count 1 --epoch_begin 0 \
 --epoch_save 1 --weight_decay 0 --head_size 64 \
 --num_nodes 1 --micro_bsz 1 --n_layer $N_LAYER --n_embd $N_EMBD --my_exit_tokens 12345678 --magic_prime 3011 \
 --lr_init 1e-5 --lr_final 1e-5 --warmup_steps 10 --beta1 0.9 --beta2 0.99 --adam_eps 1e-8 \
 --accelerator cpu --devices 1 --precision bf16 --strategy deepspeed_stage_2 --grad_cp 1
