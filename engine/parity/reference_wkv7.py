"""The WKV7 recurrence step by step in PyTorch, in whatever dtype and device its inputs have.

The parity scripts put it in place of RWKV-PEFT's WKV7 ops (a bf16-only CUDA kernel, fla or
triton, none of which runs in fp32/fp64 on a CPU), and the CPU bench's PyTorch model uses it.
Same math as engine/cpu/ops.cpp wkv7_fwd:
    S_t = S_{t-1} diag(exp(-exp(w_t))) + (S_{t-1} a_t) b_t^T + v_t k_t^T,    y_t = S_t r_t
"""
import torch


def wkv7(r, w, k, v, a, b, head_size, state=None):
    """r, w, k, v, a, b: [B, T, H*N]; state: [B, H, N, N] to start from (None: zeros).
    Returns y [B, T, H*N] and the state after the last step."""
    B, T, HC = r.shape
    H = HC // head_size
    r, w, k, v, a, b = [x.view(B, T, H, head_size) for x in (r, w, k, v, a, b)]
    decay = torch.exp(-torch.exp(w))
    S = torch.zeros(B, H, head_size, head_size, dtype=r.dtype, device=r.device) if state is None else state.to(r.dtype)
    ys = []
    for t in range(T):
        sa = torch.einsum("bhij,bhj->bhi", S, a[:, t])
        S = S * decay[:, t, :, None, :] + sa[..., None] * b[:, t, :, None, :] + v[:, t, :, :, None] * k[:, t, :, None, :]
        ys.append(torch.einsum("bhij,bhj->bhi", S, r[:, t]))
    return torch.stack(ys, 1).reshape(B, T, HC), S
