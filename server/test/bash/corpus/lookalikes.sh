#!/bin/bash
# pasted from a web page: a non-breaking space and typographic quotes, which bash keeps inside the words
n_layer=24
python train.py --load_model model.pth \
--n_layer $n_layer --n_embd 2048 \
--my_testing “x070” --peft lora \
--peft_config ‘{"r":8}’
