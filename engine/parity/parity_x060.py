#!/usr/bin/env python3
"""PyTorch parity of the CPU backend's RWKV-6 (x060) against RWKV-PEFT's own rwkv6 model code.

The reference is RWKV-PEFT's rwkvt/rwkv6 (model.py, block.py, att.py, ffn.py and its LoraLinear;
the peer tree, JL-er/RWKV-PEFT 5b8aac9) in fp32 and fp64 on the CPU. Only its WKV6 op is
replaced: the peer's ops are bf16-only CUDA kernels or fla, none of which runs in fp32/fp64 on a
CPU, so ref_wkv6 evaluates the recurrence the wkv6 / wkv6state kernels compute step by step in
torch (autograd gives its backward): per head, state S[value i][key j],
    y_t[i] = sum_j r_t[j] (u[j] k_t[j] v_t[i] + S[i][j]),  S[i][j] <- S[i][j] exp(-exp(w_t[j])) + k_t[j] v_t[i]
with S starting at zeros (RWKV_TRAIN_TYPE none) or time_state (state, read as [H, i, j] the way
wkv6state_cuda.cu indexes it). The loss is the peer's: cross-entropy mean plus L2Wrap.

Checks, each reported in parity_x060.json:
  1. our `rwkv-train init --my_testing x060` checkpoint loads with torch.load(weights_only=True)
     and load_state_dict(strict=True) into the peer's RWKV6;
  2. logits and every gradient of our engine vs the peer in fp32 (max |diff| / max |ref| per
     tensor <= 1e-4), for full fine-tuning, LoRA (r 8, alpha 16, every att and ffn linear, as the
     peer's make_linear_att/ffn wrap them) and state tuning;
  3. a checkpoint our trainer wrote (merged LoRA, bf16) loads strict into the peer's model.
Usage: parity_x060.py PEER_DIR ENGINE_BIN PARITY_DUMP OUT_DIR (run_parity_local.sh runs it).
"""
import json, os, subprocess, sys, types

os.environ["RWKV_MY_TESTING"] = "x060"
os.environ.setdefault("RWKV_TRAIN_TYPE", "none")
os.environ.setdefault("WKV", "cuda")
os.environ.setdefault("RWKV_CTXLEN", "64")
os.environ["TORCHDYNAMO_DISABLE"] = "1"

PEER, ENGINE_BIN, DUMP, OUT = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
sys.path[:0] = [os.path.join(PEER, "RWKV-PEFT"), os.path.join(PEER, "stubs")]
import torch
import torch.nn.functional as F
from parity_common import write_binidx

HEAD = 32


def ref_wkv6(B, T, C, H, r, k, v, w, u, s=None):
    """RUN_CUDA_RWKV6 / RUN_CUDA_RWKV6_STATE's recurrence in torch (see the module docstring)."""
    N = C // H
    r, k, v, w = [x.reshape(B, T, H, N) for x in (r, k, v, w)]
    decay = torch.exp(-torch.exp(w))
    state = s.unsqueeze(0).expand(B, H, N, N) if s is not None else torch.zeros(B, H, N, N, dtype=r.dtype)
    uu = u.reshape(1, H, 1, N)
    ys = []
    for t in range(T):
        kv = v[:, t, :, :, None] * k[:, t, :, None, :]  # [B, H, i, j] = v_i k_j
        ys.append(((state + uu * kv) * r[:, t, :, None, :]).sum(-1))
        state = state * decay[:, t, :, None, :] + kv
    return torch.stack(ys, 1).reshape(B, T, C)


def ref_wkv6_state(B, T, C, H, r, k, v, w, u, s):
    return ref_wkv6(B, T, C, H, r, k, v, w, u, s)


op = types.ModuleType("rwkvt.operator.rwkvop")
op.RUN_CUDA_RWKV6, op.RUN_CUDA_RWKV6_STATE = ref_wkv6, ref_wkv6_state
sys.modules["rwkvt.operator.rwkvop"] = op

from rwkvt.peft import rwkvLinear  # noqa: E402
from rwkvt.rwkv6.model import RWKV6  # noqa: E402


class L2Wrap(torch.autograd.Function):  # RWKV-PEFT's (non-infctx) L2Wrap
    @staticmethod
    def forward(ctx, loss, y):
        ctx.save_for_backward(y)
        return loss

    @staticmethod
    def backward(ctx, grad_output):
        (y,) = ctx.saved_tensors
        factor = 1e-4 / (y.shape[0] * y.shape[1])
        maxx, ids = torch.max(y, -1, keepdim=True)
        gy = torch.zeros_like(y)
        gy.scatter_(-1, ids, maxx * factor)
        return grad_output, gy


def peer_model(L, C, V, lora=None, train_type="none"):
    os.environ["RWKV_TRAIN_TYPE"] = train_type  # att.py picks RWKV_Tmix_x060 or its _state twin by it
    rwkvLinear.LORA_CONFIG.update({"r": lora[0] if lora else 0, "alpha": lora[1] if lora else 0, "dropout": 0.0})
    args = types.SimpleNamespace(n_layer=L, n_embd=C, vocab_size=V, dim_att=C, dim_ffn=int(C * 3.5) // 32 * 32,
                                 head_size_a=HEAD, head_size_divisor=8, my_testing="x060", ctx_len=64, grad_cp=0,
                                 train_type=train_type, peft="lora" if lora else "none", chunk_ctx=512)
    return RWKV6(args)


def rel(a, b):
    a, b = a.double().cpu(), b.double().cpu()
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))


report = {"torch": torch.__version__, "device": "cpu",
          "reference": "RWKV-PEFT (JL-er 5b8aac9) rwkvt/rwkv6 with a torch WKV6 loop; fp32 and fp64 on the CPU",
          "tolerance": 1e-4, "cases": {}}
L, C, V, B, T = 2, 64, 128, 2, 16
init_path = os.path.join(OUT, "x060_init.pth")
subprocess.run([ENGINE_BIN, "init", init_path, "--my_testing", "x060", "--n_layer", str(L), "--n_embd", str(C),
                "--head_size", str(HEAD), "--vocab_size", str(V), "--seed", "7", "--dtype", "fp32"],
               check=True, stdout=subprocess.DEVNULL)
base = torch.load(init_path, map_location="cpu", weights_only=True)
peer_model(L, C, V).load_state_dict(base, strict=True)
report["init_checkpoint_loads_strict"] = True
g = torch.Generator().manual_seed(0)
# Every zero or tiny path (output, ffn.value/receptance, the low-rank maa/decay maps) gets noise.
case = {k: (t + 0.1 * torch.randn(t.shape, generator=g)).float().contiguous() for k, t in base.items()}
tokens = {"inputs": torch.randint(0, V, (B, T), generator=g), "targets": torch.randint(0, V, (B, T), generator=g)}
tok_path = os.path.join(OUT, "x060_tokens.pth")
torch.save(tokens, tok_path)

LINEARS = ("att.receptance", "att.key", "att.value", "att.gate", "att.output", "ffn.key", "ffn.receptance", "ffn.value")
all_ok = True
for name, lora, state in (("full", None, False), ("lora_r8_alpha16", (8, 16), False), ("state", None, True)):
    sd = dict(case)
    if lora:
        for k in list(case):
            if any(k.endswith(f"{m}.weight") for m in LINEARS):
                out_f, in_f = case[k].shape
                sd[k.replace(".weight", ".lora_A")] = 0.1 * torch.randn(lora[0], in_f, generator=g)
                sd[k.replace(".weight", ".lora_B")] = 0.1 * torch.randn(out_f, lora[0], generator=g)
    if state:
        for l in range(L):
            sd[f"blocks.{l}.att.time_state"] = 0.3 * torch.randn(C // HEAD, HEAD, HEAD, generator=g)
    case_path = os.path.join(OUT, f"x060_case_{name}.pth")
    torch.save(sd, case_path)
    ours_path = os.path.join(OUT, f"x060_ours_{name}.pth")
    cmd = [DUMP, case_path, tok_path, ours_path] + (["--lora", str(lora[0]), str(lora[1])] if lora else []) + \
          (["--state"] if state else [])
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    ours = torch.load(ours_path, map_location="cpu", weights_only=True)  # our .pth writer, read by torch
    refs = {}
    for tag, dtype in (("fp32", torch.float32), ("fp64", torch.float64)):
        m = peer_model(L, C, V, lora, "state" if state else "none").to(dtype)
        m.load_state_dict({k: v.to(dtype) for k, v in sd.items()}, strict=True)
        if lora or state:  # RWKV-PEFT trains only the adapter / the states here (no train_parts)
            for n, p in m.named_parameters():
                p.requires_grad_(("lora_" in n) if lora else ("time_state" in n))
        logits = m(tokens["inputs"])
        loss = F.cross_entropy(logits.view(-1, V), tokens["targets"].view(-1))
        L2Wrap.apply(loss, logits).backward()
        refs[tag] = {"logits": logits.detach(), "loss": loss.detach(),
                     **{f"grad.{n}": p.grad.detach() for n, p in m.named_parameters() if p.grad is not None}}
    res = {"tensors": {}, "loss_ours": float(ours["loss"]), "loss_peer_fp32": float(refs["fp32"]["loss"]),
           "loss_peer_fp64": float(refs["fp64"]["loss"])}
    missing = sorted(set(refs["fp32"]) - set(ours))
    extra = sorted(set(ours) - set(refs["fp32"]))
    worst = 0.0
    for k in sorted(refs["fp32"]):
        if k not in ours:
            continue
        e32 = rel(ours[k], refs["fp32"][k])
        res["tensors"][k] = {"ours_vs_peer_fp32": e32, "ours_vs_peer_fp64": rel(ours[k], refs["fp64"][k]),
                             "peer_fp32_vs_fp64": rel(refs["fp32"][k], refs["fp64"][k])}
        worst = max(worst, e32)
    res["missing_in_ours"], res["extra_in_ours"] = missing, extra
    res["worst_ours_vs_peer_fp32"] = worst
    res["worst_ours_vs_peer_fp64"] = max(t["ours_vs_peer_fp64"] for t in res["tensors"].values())
    res["pass"] = worst <= 1e-4 and not missing and not extra
    all_ok &= res["pass"]
    report["cases"][name] = res
    print(f"x060 {name}: {len(res['tensors'])} tensors, worst relative difference vs peer fp32 {worst:.2e} "
          f"(vs fp64 {res['worst_ours_vs_peer_fp64']:.2e}), missing {len(missing)}, extra {len(extra)} -> "
          f"{'PASS' if res['pass'] else 'FAIL'}", flush=True)


# 3. a checkpoint our trainer wrote (merged LoRA, bf16) in the peer's RWKV6
write_binidx(os.path.join(OUT, "x060_data"), [torch.randint(1, V, (40,), generator=g).tolist() for _ in range(20)])
train_dir = os.path.join(OUT, "x060_train_run")
ret = subprocess.run([ENGINE_BIN, "--load_model", os.path.join(OUT, "x060_case_full.pth"), "--my_testing", "x060",
                      "--proj_dir", train_dir, "--data_file", os.path.join(OUT, "x060_data"), "--data_type", "binidx",
                      "--vocab_size", str(V), "--n_layer", str(L), "--n_embd", str(C), "--ctx_len", "16",
                      "--micro_bsz", "2", "--epoch_steps", "2", "--epoch_count", "1", "--accelerator", "cpu",
                      "--peft", "lora", "--peft_config", '{"r":8,"lora_alpha":16}', "--lr_init", "1e-3",
                      "--lr_final", "1e-3"], capture_output=True, text=True)
ckpt = os.path.join(train_dir, "rwkv-0.pth")
try:
    merged = torch.load(ckpt, map_location="cpu", weights_only=True)
    peer_model(L, C, V).load_state_dict({k: v.float() for k, v in merged.items()}, strict=True)
    report["trained_checkpoint"] = {"path": "x060_train_run/rwkv-0.pth", "dtype": str(next(iter(merged.values())).dtype),
                                    "tensors": len(merged), "loads_weights_only": True, "peer_load_state_dict_strict": True}
except Exception as e:  # reported, and the run fails below
    report["trained_checkpoint"] = {"error": repr(e), "engine_stdout_tail": ret.stdout[-2000:],
                                    "engine_stderr_tail": ret.stderr[-2000:]}
    all_ok = False
print("x060 trained checkpoint:", json.dumps(report["trained_checkpoint"]), flush=True)
report["pass"] = all_ok
with open(os.path.join(OUT, "parity_x060.json"), "w") as f:
    json.dump(report, f, indent=1)
print("PARITY X060", "PASS" if all_ok else "FAIL")
sys.exit(0 if all_ok else 1)
