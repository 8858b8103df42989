#!/usr/bin/env python3
"""--train_type infctx parity: our chunked training against RWKV-PEFT's infctx model code.

usage: parity_infctx.py PEER_DIR ENGINE_BIN PARITY_DUMP OUT_DIR

The reference is RWKV-PEFT's x070 infctx model (rwkvt/rwkv7 with RWKV_TRAIN_TYPE=infctx:
forward_infctx with the token-shift and WKV states of every layer) in fp64 and fp32 on the CPU,
driven chunk by chunk the way its Lightning training_step drives it (re-stated below, as its
module imports Lightning's trainer): each chunk's loss is CE + L2Wrap(1e-4 / chunk length), the
total is the chunk losses weighted by chunk length, and the states are detached between chunks.
Its WKV7 op for infctx is a CUDA or fla kernel; ref_wkv7_state below evaluates the recurrence
the engine implements (decay exp(-exp(w)), as the newest RWKV-PEFT's CUDA op computes it)
and returns the final state.

One deliberate difference is measured and reported, not hidden: RWKV-PEFT allocates the carried
WKV state in bf16 (infctx_module.BlockStateList.empty), so every chunk after the first starts
from a rounded state; the engine carries fp32. The comparison patches that allocation to the
model's dtype ("exact"), and also reports the difference with RWKV-PEFT's bf16 state ("as
shipped").

Pass: loss and every gradient within 1e-4 relative (max |diff| / max |ref|) of the exact fp32
reference, for chunk_ctx 8 over ctx_len 20 (chunks 8, 8, 4), full fine-tuning.
"""
import json, os, subprocess, sys, types

os.environ["RWKV_MY_TESTING"] = "x070"
os.environ["RWKV_TRAIN_TYPE"] = "infctx"
os.environ.setdefault("FUSED_KERNEL", "0")
os.environ.setdefault("WKV", "fla")
os.environ.setdefault("RWKV_HEAD_SIZE_A", "64")
os.environ["TORCHDYNAMO_DISABLE"] = "1"

PEER, ENGINE_BIN, DUMP, OUT = sys.argv[1:5]
sys.path[:0] = [os.path.join(PEER, "RWKV-PEFT"), os.path.join(PEER, "stubs")]
import torch
import torch.nn.functional as F
from reference_wkv7 import wkv7

HEAD = 64


def ref_wkv7_state(r, k, v, w, a, b, s, HEAD_SIZE=HEAD):
    """RWKV-PEFT's RUN_RWKV7_INFCTX signature over the step-by-step reference: (y, final state)."""
    return wkv7(r, w, k, v, a, b, HEAD_SIZE, s)


def unsupported(*_a, **_k):
    raise NotImplementedError("infctx parity covers the infctx path only")


op = types.ModuleType("rwkvt.operator.rwkvop")
op.RUN_CUDA_RWKV7g, op.RUN_RWKV7_STATE, op.RUN_RWKV7_INFCTX = unsupported, unsupported, ref_wkv7_state
sys.modules["rwkvt.operator.rwkvop"] = op

import rwkvt.infctx_module as infctx_module  # noqa: E402
from rwkvt.rwkv7.model import RWKV7  # noqa: E402

shipped_empty = infctx_module.BlockStateList.empty.__func__ if hasattr(infctx_module.BlockStateList.empty, "__func__") else infctx_module.BlockStateList.empty


def exact_empty(N, B, C, H, device, dtype):  # the WKV state in the model's dtype, not bf16
    return infctx_module.BlockStateList(torch.empty((N, 2, B, C), device=device, dtype=dtype),
                                        torch.empty((N, B, H, C // H, C // H), device=device, dtype=dtype))


class L2WrapInfctx(torch.autograd.Function):  # RWKV-PEFT's infctx L2Wrap (incoming gradient ignored)
    @staticmethod
    def forward(ctx, loss, y, token_amount):
        ctx.save_for_backward(y)
        ctx.token_amount = token_amount
        return loss

    @staticmethod
    def backward(ctx, grad_output):
        (y,) = ctx.saved_tensors
        factor = 1e-4 / ctx.token_amount
        maxx, ids = torch.max(y, -1, keepdim=True)
        gy = torch.zeros_like(y)
        gy.scatter_(-1, ids, maxx * factor)
        return grad_output, gy, None


def peer_infctx_step(model, idx, targets, chunk, L, C, dtype):
    """RWKV-PEFT's infctx training_step, re-stated: returns the weighted loss (backward done)."""
    B, T = idx.shape
    H = C // HEAD
    states = infctx_module.BlockStateList(torch.zeros((L, 2, B, C), dtype=dtype), torch.zeros((L, B, H, HEAD, HEAD), dtype=dtype))
    total = torch.tensor(0.0, dtype=dtype)
    amount = 0
    for i in range((T + chunk - 1) // chunk):
        x, y = idx[:, i * chunk:(i + 1) * chunk], targets[:, i * chunk:(i + 1) * chunk]
        logits, shift, wkv = model(x, states.shift_states, states.wkv_states)
        n = x.shape[1]
        loss = L2WrapInfctx.apply(F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1)), logits, n)
        total = total * (amount / (amount + n)) + loss * (n / (amount + n))
        amount += n
        states = infctx_module.BlockStateList(shift.clone().detach(), wkv.clone().detach())
    total.backward()
    return total


def rel(a, b):
    a, b = a.double(), b.double()
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))


L, C, V, B, T, CHUNK = 2, 128, 256, 2, 20, 8
os.makedirs(OUT, exist_ok=True)
init_path = os.path.join(OUT, "infctx_init.pth")
subprocess.run([ENGINE_BIN, "init", init_path, "--n_layer", str(L), "--n_embd", str(C), "--vocab_size", str(V),
                "--seed", "3", "--dtype", "fp32"], check=True, stdout=subprocess.DEVNULL)
g = torch.Generator().manual_seed(1)
case = {k: (t + 0.05 * torch.randn(t.shape, generator=g)).float().contiguous()
        for k, t in torch.load(init_path, map_location="cpu", weights_only=True).items()}
case_path = os.path.join(OUT, "infctx_case.pth")
torch.save(case, case_path)
tokens = {"inputs": torch.randint(0, V, (B, T), generator=g), "targets": torch.randint(0, V, (B, T), generator=g)}
tok_path = os.path.join(OUT, "infctx_tokens.pth")
torch.save(tokens, tok_path)

ours_path = os.path.join(OUT, "infctx_ours.pth")
subprocess.run([DUMP, case_path, tok_path, ours_path, "--infctx", str(CHUNK)], check=True, stdout=subprocess.DEVNULL)
ours = torch.load(ours_path, map_location="cpu", weights_only=True)

args = types.SimpleNamespace(n_layer=L, n_embd=C, vocab_size=V, dim_att=C, dim_ffn=4 * C, head_size_a=HEAD,
                             head_size_divisor=8, my_testing="x070", ctx_len=T, grad_cp=0, train_type="infctx",
                             peft="none", chunk_ctx=CHUNK)
refs = {}
for tag, dtype, empty in (("exact_fp64", torch.float64, exact_empty), ("exact_fp32", torch.float32, exact_empty),
                          ("as_shipped_fp32", torch.float32, shipped_empty)):
    infctx_module.BlockStateList.empty = staticmethod(empty)
    m = RWKV7(args).to(dtype)
    m.load_state_dict({k: v.to(dtype) for k, v in case.items()}, strict=True)
    loss = peer_infctx_step(m, tokens["inputs"], tokens["targets"], CHUNK, L, C, dtype)
    refs[tag] = {"loss": loss.detach(), **{f"grad.{n}": p.grad.detach() for n, p in m.named_parameters() if p.grad is not None}}

report = {"torch": torch.__version__, "model": f"x070 L{L} D{C} V{V}", "batch": [B, T], "chunk_ctx": CHUNK,
          "reference": "RWKV-PEFT (JL-er 5b8aac9) rwkvt/rwkv7 infctx model, its training_step's chunk loop re-stated",
          "tolerance": 1e-4, "loss_ours": float(ours["loss"]), "loss_peer_exact_fp32": float(refs["exact_fp32"]["loss"])}
missing = sorted(set(refs["exact_fp32"]) - set(ours))
extra = sorted(set(ours) - set(refs["exact_fp32"]))
worst = {tag: max(rel(ours[k], r[k]) for k in r if k in ours) for tag, r in refs.items()}
report.update({"missing_in_ours": missing, "extra_in_ours": extra, "tensors": len(refs["exact_fp32"]),
               "worst_ours_vs_peer": worst,
               "peer_fp32_vs_fp64": max(rel(refs["exact_fp32"][k], refs["exact_fp64"][k]) for k in refs["exact_fp64"])})
report["pass"] = worst["exact_fp32"] <= 1e-4 and not missing and not extra
with open(os.path.join(OUT, "parity_infctx.json"), "w") as f:
    json.dump(report, f, indent=1)
print(f"infctx chunk {CHUNK} over ctx {T}: {len(refs['exact_fp32'])} tensors (loss + grads); worst relative difference "
      f"vs peer exact fp32 {worst['exact_fp32']:.2e}, fp64 {worst['exact_fp64']:.2e}, vs peer as shipped (bf16 carried "
      f"state) {worst['as_shipped_fp32']:.2e}; missing {len(missing)}, extra {len(extra)} -> {'PASS' if report['pass'] else 'FAIL'}")
sys.exit(0 if report["pass"] else 1)
