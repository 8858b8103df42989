#!/usr/bin/env python3
"""The CPU peer of `npm run bench`: the same RWKV-7 (x070) model in plain PyTorch on the CPU.

Written for this benchmark from the x070 equations (the ones engine/cpu implements and
engine/parity checked against RWKV-PEFT's model code); the WKV7 recurrence is the step-by-step
loop of engine/parity/reference_wkv7.py, which is how a PyTorch user without a CUDA kernel runs
RWKV-7 on a CPU.

usage: torch_rwkv7_cpu.py MODEL.pth PARITY_DUMP OUT_DIR THREADS[,THREADS...] STEPS

1. Perturbs the checkpoint, makes a random token batch (micro_bsz 8, ctx_len 64), runs our engine's forward on it
   (parity_dump) and its own, and requires the logits to agree (max |diff| / max |ref| <= 1e-4):
   the two sides time the same model, not merely the same shapes.
2. For each thread count: times STEPS training steps (forward, backward, AdamW) of each side.
Prints one JSON line per thread count and a final JSON summary on stdout.
"""
import json
import os
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "engine", "parity"))
from reference_wkv7 import wkv7  # noqa: E402  the step-by-step WKV7 the parity scripts use

MODEL, PARITY_DUMP, OUT = sys.argv[1], sys.argv[2], sys.argv[3]
THREADS = [int(t) for t in sys.argv[4].split(",")]
STEPS = int(sys.argv[5])
B, T = 8, 64


def shift(x):
    """Token shift: the previous position's x, zeros before the first."""
    return F.pad(x, (0, 0, 1, -1))


class Rwkv7(torch.nn.Module):
    """Holds the checkpoint's tensors by their own names and evaluates x070 with them."""

    def __init__(self, state_dict):
        super().__init__()
        self.names = sorted(state_dict)
        self.p = torch.nn.ParameterDict({n.replace(".", "__"): torch.nn.Parameter(t.float().clone()) for n, t in state_dict.items()})
        self.n_layer = 1 + max(int(n.split(".")[1]) for n in state_dict if n.startswith("blocks."))
        self.head_size = state_dict["blocks.0.att.r_k"].shape[1]

    def w(self, name):
        return self.p[name.replace(".", "__")]

    def layer_norm(self, x, name, eps=1e-5):
        return F.layer_norm(x, x.shape[-1:], self.w(name + ".weight"), self.w(name + ".bias"), eps)

    def linear(self, x, name):
        return x @ self.w(name + ".weight").t()

    def time_mix(self, i, x, v_first):
        P = f"blocks.{i}.att."
        Bsz, Tlen, C = x.shape
        H, N = C // self.head_size, self.head_size
        dx = shift(x) - x
        xr, xw, xk, xv, xa, xg = (x + dx * self.w(P + "x_" + c) for c in "rwkvag")
        r = self.linear(xr, P + "receptance")
        w = -F.softplus(-(self.w(P + "w0") + torch.tanh(xw @ self.w(P + "w1")) @ self.w(P + "w2"))) - 0.5
        k = self.linear(xk, P + "key")
        v = self.linear(xv, P + "value")
        if i == 0:
            v_first = v
        else:
            v = v + (v_first - v) * torch.sigmoid(self.w(P + "v0") + (xv @ self.w(P + "v1")) @ self.w(P + "v2"))
        a = torch.sigmoid(self.w(P + "a0") + (xa @ self.w(P + "a1")) @ self.w(P + "a2"))
        g = torch.sigmoid(xg @ self.w(P + "g1")) @ self.w(P + "g2")
        kk = F.normalize((k * self.w(P + "k_k")).view(Bsz, Tlen, H, N), dim=-1, p=2.0).view(Bsz, Tlen, C)
        k = k * (1 + (a - 1) * self.w(P + "k_a"))
        y, _ = wkv7(r, w, k, v, -kk, kk * a, N)
        y = F.group_norm(y.view(Bsz * Tlen, C), H, self.w(P + "ln_x.weight"), self.w(P + "ln_x.bias"), eps=64e-5).view(Bsz, Tlen, C)
        bonus = (r.view(Bsz, Tlen, H, N) * k.view(Bsz, Tlen, H, N) * self.w(P + "r_k")).sum(-1, keepdim=True)
        y = y + (bonus * v.view(Bsz, Tlen, H, N)).view(Bsz, Tlen, C)
        return self.linear(y * g, P + "output"), v_first

    def channel_mix(self, i, x):
        P = f"blocks.{i}.ffn."
        xk = x + (shift(x) - x) * self.w(P + "x_k")
        return self.linear(torch.relu(self.linear(xk, P + "key")) ** 2, P + "value")

    def forward(self, idx):
        x = F.embedding(idx, self.w("emb.weight"))
        v_first = None
        for i in range(self.n_layer):
            if i == 0:
                x = self.layer_norm(x, "blocks.0.ln0")
            att, v_first = self.time_mix(i, self.layer_norm(x, f"blocks.{i}.ln1"), v_first)
            x = x + att
            x = x + self.channel_mix(i, self.layer_norm(x, f"blocks.{i}.ln2"))
        return self.linear(self.layer_norm(x, "ln_out"), "head")


def main():
    os.makedirs(OUT, exist_ok=True)
    gen = torch.Generator().manual_seed(7)
    # RWKV's initialisation zeroes att.output and ffn.value, so at init a wrong time mix or
    # channel mix would not change the logits. Both sides therefore use a perturbed copy.
    weights = {n: t.float() + 0.05 * torch.randn(t.shape, generator=gen) for n, t in torch.load(MODEL, map_location="cpu").items()}
    model_path = os.path.join(OUT, "perturbed.pth")
    torch.save(weights, model_path)
    vocab = weights["head.weight"].shape[0]
    tokens = {"inputs": torch.randint(0, vocab, (B, T), generator=gen), "targets": torch.randint(0, vocab, (B, T), generator=gen)}
    tokens_path = os.path.join(OUT, "tokens.pth")
    torch.save(tokens, tokens_path)

    # 1. Same model: our engine's logits against this model's.
    ours_path = os.path.join(OUT, "ours.pth")
    subprocess.run([PARITY_DUMP, model_path, tokens_path, ours_path], check=True, stdout=subprocess.DEVNULL)
    ours_logits = torch.load(ours_path)["logits"].float()
    model = Rwkv7(weights)
    with torch.no_grad():
        ref_logits = model(tokens["inputs"])
    rel = ((ours_logits - ref_logits).abs().max() / ref_logits.abs().max()).item()
    print(json.dumps({"same_model_check": "logits", "max_rel_diff": rel}), flush=True)
    if not rel <= 1e-4:
        print(json.dumps({"error": f"the PyTorch model disagrees with the engine (max rel diff {rel:.3g}); the timing would not compare the same model"}))
        sys.exit(1)

    # 2. Training-step throughput, each side with the same thread count.
    rows = []
    for threads in THREADS:
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), OMP_WAIT_POLICY="passive")
        r = subprocess.run([PARITY_DUMP, model_path, tokens_path, "/dev/null", "--bench", str(STEPS)], env=env,
                           capture_output=True, text=True, check=True)
        ours_tps = json.loads(r.stdout.strip().splitlines()[-1])["tokens_per_s"]

        torch.set_num_threads(threads)
        model = Rwkv7(weights)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.99), eps=1e-8, weight_decay=0)

        def step():
            logits = model(tokens["inputs"])
            F.cross_entropy(logits.view(-1, vocab), tokens["targets"].view(-1)).backward()
            opt.step()
            opt.zero_grad(set_to_none=True)

        step()  # warm-up, as the engine's --bench does
        t0 = time.perf_counter()
        for _ in range(STEPS):
            step()
        torch_tps = B * T * STEPS / (time.perf_counter() - t0)
        row = {"threads": threads, "ours_tokens_per_s": round(ours_tps, 1), "pytorch_tokens_per_s": round(torch_tps, 1),
               "ratio": round(ours_tps / torch_tps, 2)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(json.dumps({"summary": rows, "torch": torch.__version__, "logits_max_rel_diff": rel}))


main()
