#!/bin/bash
# The addon part's one GPU call: (1) listGpus (our NVML-by-dlopen code) against nvidia-smi,
# (2) small .pth fixtures written by torch.save, (3) a real RWKV-PEFT run's peak memory to set
# beside the planner's reference-stack estimate.
set -u
D=$(pwd)/.device/addon
T0=$SECONDS
exec > >(tee -a "$OUT/summary.txt") 2>&1
echo "== gpus: nvidia-smi"
nvidia-smi --query-gpu=index,name,compute_cap,memory.total,memory.free,memory.used,driver_version --format=csv,nounits
echo "== gpus: core/gpus.cpp (gpus_probe = rwkv-train gpus)"
"$D/gpus_probe"
echo "== gpus: addon listGpus"
if command -v node >/dev/null; then node -e "require('$D/rwkv_studio.node').listGpus().then(r=>console.log(JSON.stringify(r)))"; else echo "no node on this machine"; fi
echo "== torch fixtures"
python3 -c "import torch,sys;print('torch',torch.__version__,'python',sys.version.split()[0])"
timeout 90 python3 "$D/make_fixtures.py" /tmp/fx && cp "$D/make_fixtures.py" /tmp/fx/ && tar -C /tmp/fx -cf "$OUT/torch_fixtures.tar" . && ls -la /tmp/fx
python3 -c "
import torch
sd = torch.load('$D/small_sparse.pth', weights_only=True)
print('bench sparse layout loads with torch.load:', len(sd), 'tensors', tuple(sd['emb.weight'].shape), sd['emb.weight'].dtype, tuple(sd['blocks.1.att.r_k'].shape))
"
echo "== peer run (RWKV-PEFT: strategy auto, bf16, op cuda, LoRA r64) t=$((SECONDS-T0))s"
cd .peer/RWKV-PEFT
export PYTHONPATH=$(cd ..; pwd)/stubs
python3 ../gen_data.py /tmp/data/rand 400 1100
timeout 170 bash ../run1.sh init 12 768 1024 1 none 1 "" | tail -3
ls -la /tmp/runs/init/ 2>&1 | head
python3 ../fix_init.py /tmp/runs/init/rwkv-init.pth 768
echo "t=$((SECONDS-T0))s"
GRADCP=1 TORCHDYNAMO_DISABLE=1 timeout 150 bash ../run1.sh lora01 12 768 1024 1 lora 30 /tmp/runs/init/rwkv-init.pth
echo "t=$((SECONDS-T0))s"
if [ $((SECONDS-T0)) -lt 300 ]; then
  GRADCP=1 TORCHDYNAMO_DISABLE=1 timeout 120 bash ../run1.sh full01 12 768 1024 2 none 20 /tmp/runs/init/rwkv-init.pth
fi
echo "== gpus after"; "$D/gpus_probe"
echo "done t=$((SECONDS-T0))s"
