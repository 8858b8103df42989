#!/bin/bash
# a flag line after the call lost its trailing backslash; bash runs the rest as commands
python train.py --load_model model.pth --n_layer 24 \
--n_embd 2048
--my_testing x070 --peft lora \
--peft_config {"r":8}
echo done
