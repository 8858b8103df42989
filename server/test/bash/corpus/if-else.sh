#!/bin/bash
# One of two calls runs, depending on a variable set above.
USE_PISSA=1
if [ "$USE_PISSA" = "1" ]; then
  METHOD=pissa
  python train.py --peft lora --peft_config '{"r":64,"init_lora_weights":"pissa_niter_4"}' --n_layer 12
elif [ "$USE_PISSA" = "2" ]; then
  METHOD=miss
  python train.py --peft miss --peft_config '{"r":64}' --n_layer 12
else
  METHOD=lora
  python train.py --peft lora --peft_config '{"r":32}' --n_layer 12
fi
echo "$METHOD"
