#!/usr/bin/env python3
"""PyTorch parity for the CPU backend (run by run_parity.sh on the GPU machine).

The reference is RWKV-PEFT's own x070 model code (rwkvt/rwkv7, the peer tree, JL-er/RWKV-PEFT
5b8aac9) in fp32 on CUDA (TF32 off) and in fp64 on the CPU. Only its WKV7 op is replaced: the
peer's ops are a bf16-only CUDA kernel, fla or triton, none of which runs in fp32/fp64, so
ref_wkv7 evaluates the same recurrence step by step in torch (reference_wkv7.py).
The loss is the peer's: cross-entropy mean plus L2Wrap (re-stated here because its module
imports Lightning's trainer).

Checks, each reported in parity.json:
  1. our `rwkv-train init` checkpoint loads with torch.load(weights_only=True);
  2. logits and every gradient of our engine vs the peer in fp32 (max |diff| / max |ref| per
     tensor <= 1e-4), for full fine-tuning and for LoRA (r 8, alpha 16);
  3. a checkpoint our trainer wrote (merged LoRA, bf16) loads with weights_only=True and
     load_state_dict(strict=True) into the peer's model;
  4. CPU tokens/s of the demo model (L2 D128 V256, B8 T64): ours vs the peer's model code in
     PyTorch on the CPU, with 2 threads and with all cores.
"""
import json, os, subprocess, sys, time, types

os.environ.setdefault("RWKV_MY_TESTING", "x070")
os.environ.setdefault("RWKV_TRAIN_TYPE", "none")
os.environ.setdefault("FUSED_KERNEL", "0")
os.environ.setdefault("WKV", "cuda")
os.environ.setdefault("RWKV_HEAD_SIZE_A", "64")
os.environ["TORCHDYNAMO_DISABLE"] = "1"  # the peer decorates forward with torch.compile

PEER, ENGINE_BIN, DUMP, OUT = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
sys.path[:0] = [os.path.join(PEER, "RWKV-PEFT"), os.path.join(PEER, "stubs")]
import torch
import torch.nn.functional as F
from reference_wkv7 import wkv7
from parity_common import write_binidx

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
HEAD = 64


def ref_wkv7(r, w, k, v, a, b, HEAD_SIZE=HEAD):
    """RWKV-PEFT's RUN_CUDA_RWKV7g signature over the step-by-step reference (reference_wkv7.py)."""
    return wkv7(r, w, k, v, a, b, HEAD_SIZE)[0]


def unsupported(*_a, **_k):
    raise NotImplementedError("parity covers the plain x070 path")


op = types.ModuleType("rwkvt.operator.rwkvop")
op.RUN_CUDA_RWKV7g, op.RUN_RWKV7_STATE, op.RUN_RWKV7_INFCTX = ref_wkv7, unsupported, unsupported
sys.modules["rwkvt.operator.rwkvop"] = op

from rwkvt.peft import rwkvLinear  # noqa: E402
from rwkvt.rwkv7.model import RWKV7  # noqa: E402


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


def peer_model(L, C, V, lora=None):
    rwkvLinear.LORA_CONFIG.update({"r": lora[0] if lora else 0, "alpha": lora[1] if lora else 0, "dropout": 0.0})
    args = types.SimpleNamespace(n_layer=L, n_embd=C, vocab_size=V, dim_att=C, dim_ffn=4 * C, head_size_a=HEAD,
                                 head_size_divisor=8, my_testing="x070", ctx_len=4096, grad_cp=0,
                                 train_type="none", peft="lora" if lora else "none", chunk_ctx=512)
    return RWKV7(args)


def rel(a, b):
    a, b = a.double().cpu(), b.double().cpu()
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))


report = {"torch": torch.__version__, "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
          "reference": "RWKV-PEFT (JL-er 5b8aac9) rwkvt/rwkv7 with a torch WKV7 loop; fp32 on CUDA (TF32 off), fp64 on CPU",
          "tolerance": 1e-4, "cases": {}}
L, C, V, B, T = 3, 128, 512, 2, 24
init_path = os.path.join(OUT, "init.pth")
subprocess.run([ENGINE_BIN, "init", init_path, "--n_layer", str(L), "--n_embd", str(C), "--vocab_size", str(V),
                "--seed", "7", "--dtype", "fp32"], check=True, stdout=subprocess.DEVNULL)
base = torch.load(init_path, map_location="cpu", weights_only=True)
report["init_checkpoint_loads_weights_only"] = True
g = torch.Generator().manual_seed(0)
# Every zero-initialised path (w1, a1, g1, output, ffn.value, ...) gets noise so all grads are live.
case = {k: (t + 0.05 * torch.randn(t.shape, generator=g)).float().contiguous() for k, t in base.items()}
tokens = {"inputs": torch.randint(0, V, (B, T), generator=g), "targets": torch.randint(0, V, (B, T), generator=g)}
tok_path = os.path.join(OUT, "tokens.pth")
torch.save(tokens, tok_path)

all_ok = True
for name, lora in (("full", None), ("lora_r8_alpha16", (8, 16))):
    sd = dict(case)
    if lora:
        for k in list(case):
            if any(k.endswith(f"{m}.weight") for m in ("receptance", "key", "value", "output")) and ".ln" not in k:
                out_f, in_f = case[k].shape
                sd[k.replace(".weight", ".lora_A")] = 0.1 * torch.randn(lora[0], in_f, generator=g)
                sd[k.replace(".weight", ".lora_B")] = 0.1 * torch.randn(out_f, lora[0], generator=g)
    case_path = os.path.join(OUT, f"case_{name}.pth")
    torch.save(sd, case_path)
    ours_path = os.path.join(OUT, f"ours_{name}.pth")
    cmd = [DUMP, case_path, tok_path, ours_path] + (["--lora", str(lora[0]), str(lora[1])] if lora else [])
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    ours = torch.load(ours_path, map_location="cpu", weights_only=True)  # our .pth writer, read by torch
    refs = {}
    for tag, dtype, dev in (("fp32", torch.float32, "cuda" if torch.cuda.is_available() else "cpu"), ("fp64", torch.float64, "cpu")):
        m = peer_model(L, C, V, lora).to(dev, dtype)
        m.load_state_dict({k: v.to(dtype) for k, v in sd.items()}, strict=True)
        if lora:  # RWKV-PEFT trains only the adapter (train_parts left empty here)
            for n, p in m.named_parameters():
                p.requires_grad_("lora_" in n)
        logits = m(tokens["inputs"].to(dev))
        loss = F.cross_entropy(logits.view(-1, V), tokens["targets"].to(dev).view(-1))
        L2Wrap.apply(loss, logits).backward()
        refs[tag] = {"logits": logits.detach().cpu(), "loss": loss.detach().cpu(),
                     **{f"grad.{n}": p.grad.detach().cpu() for n, p in m.named_parameters() if p.grad is not None}}
    res = {"tensors": {}, "loss_ours": float(ours["loss"]), "loss_peer_fp32": float(refs["fp32"]["loss"])}
    missing = sorted(set(refs["fp32"]) - set(ours))
    extra = sorted(set(ours) - set(refs["fp32"]))
    worst = 0.0
    for k in sorted(refs["fp32"]):
        if k not in ours:
            continue
        e32 = rel(ours[k], refs["fp32"][k])
        e64 = rel(ours[k], refs["fp64"][k])
        p64 = rel(refs["fp32"][k], refs["fp64"][k])
        res["tensors"][k] = {"ours_vs_peer_fp32": e32, "ours_vs_peer_fp64": e64, "peer_fp32_vs_fp64": p64}
        worst = max(worst, e32)
    res["missing_in_ours"], res["extra_in_ours"] = missing, extra
    res["worst_ours_vs_peer_fp32"] = worst
    res["pass"] = worst <= 1e-4 and not missing and not extra
    all_ok &= res["pass"]
    report["cases"][name] = res
    print(f"{name}: {len(res['tensors'])} tensors, worst relative difference vs peer fp32 {worst:.2e}, "
          f"missing {len(missing)}, extra {len(extra)} -> {'PASS' if res['pass'] else 'FAIL'}", flush=True)

# 3. a checkpoint our trainer wrote (merged LoRA, bf16) in torch and in the peer's model
write_binidx(os.path.join(OUT, "data"), [torch.randint(1, V, (40,), generator=g).tolist() for _ in range(20)])
train_dir = os.path.join(OUT, "train_run")
ret = subprocess.run([ENGINE_BIN, "--load_model", os.path.join(OUT, "case_full.pth"), "--proj_dir", train_dir,
                      "--data_file", os.path.join(OUT, "data"), "--data_type", "binidx", "--vocab_size", str(V),
                      "--n_layer", str(L), "--n_embd", str(C), "--ctx_len", "16", "--micro_bsz", "2",
                      "--epoch_steps", "2", "--epoch_count", "1", "--accelerator", "cpu", "--peft", "lora",
                      "--peft_config", '{"r":8,"lora_alpha":16}', "--lr_init", "1e-3", "--lr_final", "1e-3"],
                     capture_output=True, text=True)
ckpt = os.path.join(train_dir, "rwkv-0.pth")
try:
    merged = torch.load(ckpt, map_location="cpu", weights_only=True)
    m = peer_model(L, C, V)
    m.load_state_dict({k: v.float() for k, v in merged.items()}, strict=True)
    report["trained_checkpoint"] = {"path": "train_run/rwkv-0.pth", "dtype": str(next(iter(merged.values())).dtype),
                                    "tensors": len(merged), "loads_weights_only": True, "peer_load_state_dict_strict": True}
except Exception as e:  # reported, and the run fails below
    report["trained_checkpoint"] = {"error": repr(e), "engine_stdout_tail": ret.stdout[-2000:], "engine_stderr_tail": ret.stderr[-2000:]}
    all_ok = False
print("trained checkpoint:", json.dumps(report["trained_checkpoint"]), flush=True)

# 4. CPU tokens/s of the demo model: ours vs the peer's model code in PyTorch
Ld, Cd, Vd, Bd, Td = 2, 128, 256, 8, 64
demo_init = os.path.join(OUT, "demo_init.pth")
subprocess.run([ENGINE_BIN, "init", demo_init, "--n_layer", str(Ld), "--n_embd", str(Cd), "--vocab_size", str(Vd),
                "--dtype", "fp32"], check=True, stdout=subprocess.DEVNULL)
demo_tok = os.path.join(OUT, "demo_tokens.pth")
torch.save({"inputs": torch.randint(0, Vd, (Bd, Td), generator=g), "targets": torch.randint(0, Vd, (Bd, Td), generator=g)}, demo_tok)
bench = {"model": "L2 D128 V256, micro_bsz 8, ctx_len 64, fp32, one training step = forward + backward + AdamW"}
ncores = os.cpu_count()
for threads in (2, ncores):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OMP_WAIT_POLICY="passive")
    r = subprocess.run([DUMP, demo_init, demo_tok, "/dev/null", "--bench", "20"], env=env, capture_output=True, text=True, check=True)
    ours_tps = json.loads(r.stdout.strip().splitlines()[-1])["tokens_per_s"]
    torch.set_num_threads(threads)
    m = peer_model(Ld, Cd, Vd)
    m.load_state_dict(torch.load(demo_init, weights_only=True), strict=True)
    opt = torch.optim.AdamW(m.parameters(), lr=1e-4, betas=(0.9, 0.99), eps=1e-8, weight_decay=0)
    dt_tok = torch.load(demo_tok, weights_only=True)

    def step():
        logits = m(dt_tok["inputs"])
        loss = F.cross_entropy(logits.view(-1, Vd), dt_tok["targets"].view(-1))
        L2Wrap.apply(loss, logits).backward()
        opt.step()
        opt.zero_grad()

    step()
    t0 = time.perf_counter()
    n = 5
    for _ in range(n):
        step()
    torch_tps = Bd * Td * n / (time.perf_counter() - t0)
    bench[f"threads_{threads}"] = {"ours_tokens_per_s": round(ours_tps, 1), "pytorch_tokens_per_s": round(torch_tps, 1),
                                   "ratio_ours_over_pytorch": round(ours_tps / torch_tps, 2)}
    print(f"CPU {threads} threads: ours {ours_tps:.0f} tok/s, PyTorch (peer model code) {torch_tps:.0f} tok/s", flush=True)
report["cpu_bench"] = bench
report["pass"] = all_ok
with open(os.path.join(OUT, "parity.json"), "w") as f:
    json.dump(report, f, indent=1)
print("PARITY", "PASS" if all_ok else "FAIL")
sys.exit(0 if all_ok else 1)
