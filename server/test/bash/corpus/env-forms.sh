#!/bin/bash
# Exports, env prefixes, = forms, ${VAR:-default}, quoting, launchers, a background run.
export WANDB_MODE=offline
HF_HOME=/tmp/hf; export HF_HOME
N=${N_LAYER:-12}
CTX=512; CTX+=0
peft_config='{"r": 64, "lora_alpha": 128}'
CUDA_VISIBLE_DEVICES=0 python train.py --n_layer=$N --ctx_len "$CTX" --peft_config "$peft_config" --lr_init=-1 --random_seed -1
python3 train.py --train_parts --sft_field query response --strategy ddp_find_unused_parameters_true
env OMP_NUM_THREADS=4 torchrun --nproc_per_node 2 train.py --devices 2 --precision bf16
nohup python train.py --n_layer 24 --proj_dir 'out/a b' > train.log 2>&1 &
unset WANDB_MODE
python train.py --data_file "$HF_HOME/data" --my_testing x070 <<< "ignored"
