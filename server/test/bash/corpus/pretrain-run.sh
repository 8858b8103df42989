#!/bin/bash
# RWKV-LM-V7 pretraining tutorial (seeds/004): demo-training-run.sh with the tutorial's values
# (L12-D768, ctx 4096, M_BSZ 16, LR 6e-4 -> 6e-5, train_stage 3, load_model "0").
MODEL_TYPE="x070"
N_LAYER="12"
N_EMBD="768"
CTX_LEN="4096"
PROJ_DIR="out/L"$N_LAYER"-D"$N_EMBD"-"$MODEL_TYPE

M_BSZ="16"
LR_INIT="6e-4"
LR_FINAL="6e-5"
GRAD_CP=1
HEAD_CHUNK=0
KERNEL="@rwkv3"
EPOCH_SAVE=10

N_NODE=1
GPU_PER_NODE=1

python train.py --load_model "0" --wandb "Test" --proj_dir $PROJ_DIR --my_testing $MODEL_TYPE \
 --ctx_len $CTX_LEN --train_stage 3 --epoch_count 999999 --epoch_begin 0 \
 --data_file "data/demo" --my_exit_tokens 12345678 --magic_prime 3011 \
 --num_nodes $N_NODE --micro_bsz $M_BSZ --n_layer $N_LAYER --n_embd $N_EMBD --kernel $KERNEL \
 --lr_init $LR_INIT --lr_final $LR_FINAL --warmup_steps 10 --beta1 0.9 --beta2 0.99 --adam_eps 1e-18 --data_type "binidx" --vocab_size 65536 \
 --weight_decay 0.001 --epoch_save $EPOCH_SAVE --head_size 64 --head_chunk $HEAD_CHUNK \
 --accelerator gpu --devices $GPU_PER_NODE --precision bf16 --strategy deepspeed_stage_2 --grad_cp $GRAD_CP --enable_progress_bar True
