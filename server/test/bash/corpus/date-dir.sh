#!/bin/bash
proj_dir=out/lora-$(date +%m%d)
python train.py --proj_dir $proj_dir --n_layer 2
