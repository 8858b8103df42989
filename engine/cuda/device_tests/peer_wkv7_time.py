# Times RWKV-PEFT's own WKV7 CUDA op (cuda/wkv7_cuda.cu, built by torch as the peer builds it,
# same flags) at the shapes kernel_check times ours, so the two kernels compare on one GPU.
# Usage: python3 peer_wkv7_time.py PEER_TREE   (prints "PEER_TIME wkv7 B= T= H= forward_ms= backward_ms=")
import os, sys
import torch
from torch.utils.cpp_extension import load

tree = sys.argv[1]
os.chdir(tree)
N, CHUNK = 64, 16
flags = ['-res-usage', f'-D_C_={N}', f'-D_CHUNK_LEN_={CHUNK}', '--use_fast_math', '-O3', '-Xptxas -O3',
         '--extra-device-vectorization']
load(name='wind_backstepping', sources=['cuda/wkv7_cuda.cu', 'cuda/wkv7_op.cpp'], is_python_module=False,
     verbose=False, extra_cuda_cflags=flags)
op = torch.ops.wind_backstepping

for B, T, H in [(8, 1024, 12), (8, 1024, 32), (1, 4096, 32), (8, 4096, 12)]:
    shape = (B, T, H, N)
    bf = dict(dtype=torch.bfloat16, device='cuda')
    w = torch.full(shape, -0.5, **bf)
    q, k, v, a, b, dy = [torch.zeros(shape, **bf) for _ in range(6)]
    y = torch.empty_like(v)
    s = torch.empty(B, H, T // CHUNK, N, N, dtype=torch.float32, device='cuda')
    sa = torch.empty(B, T, H, N, dtype=torch.float32, device='cuda')
    grads = [torch.empty_like(x) for x in (w, q, k, v, a, b)]
    e0, e1, e2 = (torch.cuda.Event(enable_timing=True) for _ in range(3))
    for _ in range(2):  # second pass timed, like kernel_check
        e0.record()
        op.forward(w, q, k, v, a, b, y, s, sa)
        e1.record()
        op.backward(w, q, k, v, a, b, dy, s, sa, *grads)
        e2.record()
    torch.cuda.synchronize()
    print(f'PEER_TIME wkv7 B={B} T={T} H={H} forward_ms={e0.elapsed_time(e1):.3f} '
          f'backward_ms={e1.elapsed_time(e2):.3f}', flush=True)
