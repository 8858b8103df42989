# Times flash-linear-attention's chunked WKV7 (fla.ops.rwkv7.chunk_rwkv7, Triton) forward and
# backward at the shapes kernel_check times ours (TIME wkv7 / wkv7_chunked), so the kernels
# compare on one GPU in one device call. fla is not installed there: FLA_DIR is the small copy
# fla_tree.py builds (just the op's import closure), put first on sys.path; it needs torch,
# triton and packaging only.
#
# Usage: python3 peer_fla_time.py [FLA_DIR]         (default .fla) prints, per shape,
#          FLA_TIME wkv7 B= T= H= forward_ms= backward_ms= mode=layer
#          FLA_TIME wkv7_plain B= T= H= forward_ms= backward_ms= mode=plain
#        or one "FLA_TIME unavailable: <reason>" line (exit 0: the bench reports it, not fatal).
#        python3 peer_fla_time.py --dry [FLA_DIR]   no torch/triton needed: checks that every fla
#          module the op imports resolves to a file in FLA_DIR, prints "FLA_DRY ok ..." or why not.
#
# fla's layout and conventions (fla/ops/rwkv7/chunk.py, fla/ops/generalized_delta_rule/dplr):
#   r, w, k, v, a, b all [B, T, H, 64], bf16, contiguous, batch-major like ours;
#   w is the LOG decay (fla's gk), w = log(decay) < 0; ours takes w_raw with log decay =
#     -exp(w_raw), RWKV-7 bounds it: log decay = -exp(-0.5) * sigmoid(.) in [-0.6065, 0);
#   a, b: the state update is S_t = S_{t-1} (diag(exp w_t) + a_t b_t^T) + v_t k_t^T, i.e. RWKV-7's
#     a = -kk, b = kk * a_gate, as fla's layer and ours pass them (fla keeps S transposed: [K, V]);
#   scale 1.0 (RWKV-7 does not scale r).
# "layer" is how fla's own RWKV-7 layer (fla/layers/rwkv7.py) calls the op: safe_gate=True with
# lower_bound = -exp(-0.5), which RWKV-7's decay range licenses and which lets fla use its faster
# tensor-core path; "plain" is the op's defaults. Both start from a zero state and return no final
# state, as our bench kernels (and RWKV-PEFT's op) do.
import os
import sys

SHAPES = [(8, 1024, 12), (8, 1024, 32), (1, 4096, 32), (8, 4096, 12)]
N = 64
LOWER_BOUND = -0.6065306597126334  # -exp(-0.5): RWKV-7's strongest per-step log decay
WARMUP, ITERS = 3, 10  # the first calls compile and autotune the Triton kernels


def dry(fla_dir):
    sys.dont_write_bytecode = True  # no __pycache__ left in the source tree
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from fla_tree import walk_imports  # the same walk that built the tree

    def read(path):
        with open(os.path.join(fla_dir, path)) as fh:
            return fh.read()

    files, external, missing = walk_imports(read, lambda p: os.path.isfile(os.path.join(fla_dir, p)))
    if missing:
        print(f'FLA_DRY missing: {", ".join(missing)} (rebuild {fla_dir} with fla_tree.py)')
        return 1
    print(f'FLA_DRY ok: {len(files)} fla files resolve in {fla_dir}; needs {", ".join(external)}')
    return 0


def inputs(torch, B, T, H):
    """RWKV-7-like values in fla's conventions, as leaves that take gradients."""
    g = torch.Generator(device='cuda').manual_seed(0)
    shape = (B, T, H, N)

    def randn():
        return torch.randn(shape, device='cuda', generator=g)

    kk = torch.nn.functional.normalize(randn(), dim=-1)
    a_gate = torch.sigmoid(randn())
    tensors = {
        'r': randn() * 0.5,
        'w': LOWER_BOUND * torch.sigmoid(randn()),  # log decay in [-0.6065, 0)
        'k': randn() * 0.5,
        'v': randn() * 0.5,
        'a': -kk,
        'b': kk * a_gate,
    }
    return {n: t.to(torch.bfloat16).contiguous().requires_grad_(True) for n, t in tensors.items()}, \
        torch.randn(shape, device='cuda', generator=g).to(torch.bfloat16)


def time_mode(torch, chunk_rwkv7, B, T, H, kwargs):
    x, dy = inputs(torch, B, T, H)
    events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True),
               torch.cuda.Event(enable_timing=True)) for _ in range(WARMUP + ITERS)]
    for e0, e1, e2 in events:
        for t in x.values():
            t.grad = None
        e0.record()
        o, _ = chunk_rwkv7(x['r'], x['w'], x['k'], x['v'], x['a'], x['b'], scale=1.0, **kwargs)
        e1.record()
        o.backward(dy)
        e2.record()
    torch.cuda.synchronize()
    timed = events[WARMUP:]
    fwd = sorted(e0.elapsed_time(e1) for e0, e1, _ in timed)[ITERS // 2]  # medians
    bwd = sorted(e1.elapsed_time(e2) for _, e1, e2 in timed)[ITERS // 2]
    return fwd, bwd


def main():
    args = [a for a in sys.argv[1:] if a != '--dry']
    fla_dir = os.path.abspath(args[0] if args else '.fla')
    if '--dry' in sys.argv:
        return dry(fla_dir)
    if not os.path.isfile(os.path.join(fla_dir, 'fla', 'ops', 'rwkv7', 'chunk.py')):
        print(f'FLA_TIME unavailable: no fla tree at {fla_dir} (build it with fla_tree.py)', flush=True)
        return 0
    sys.path.insert(0, fla_dir)
    try:
        import torch
        from fla.ops.rwkv7 import chunk_rwkv7
    except Exception as exc:  # noqa: BLE001 - any failure is reported, the bench goes on
        print(f'FLA_TIME unavailable: import failed: {type(exc).__name__}: {exc}', flush=True)
        return 0
    if not torch.cuda.is_available():
        print('FLA_TIME unavailable: torch sees no CUDA device', flush=True)
        return 0
    commit = open(os.path.join(fla_dir, 'FLA_COMMIT')).read().strip() if os.path.exists(
        os.path.join(fla_dir, 'FLA_COMMIT')) else 'unknown'
    print(f'FLA_VERSION {commit} torch={torch.__version__} triton={__import__("triton").__version__}', flush=True)
    modes = [('wkv7', 'layer', dict(safe_gate=True, lower_bound=LOWER_BOUND)), ('wkv7_plain', 'plain', {})]
    for B, T, H in SHAPES:
        for name, mode, kwargs in modes:
            try:
                fwd, bwd = time_mode(torch, chunk_rwkv7, B, T, H, kwargs)
            except Exception as exc:  # noqa: BLE001
                print(f'FLA_TIME unavailable: {name} B={B} T={T} H={H} failed: {type(exc).__name__}: '
                      f'{str(exc)[:300]}', flush=True)
                continue
            print(f'FLA_TIME {name} B={B} T={T} H={H} forward_ms={fwd:.3f} backward_ms={bwd:.3f} mode={mode}',
                  flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
