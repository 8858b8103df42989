#!/usr/bin/env python3
"""--quant against the bf16 base it replaces, through the real CLI: the same LoRA run (same
random x070 model, same data, same seed) with --quant none, int8 and nf4, and per run the loss
curve and tokens/s. Prints a table and writes OUT/quant_curves.md + .json:
  - the worst relative difference of the loss curve (a 10-step running mean, so a single noisy
    step does not decide it) against the bf16 base's, and of the last 20 steps' mean;
  - tokens/s (median of the steps after the first 5) and its ratio to the bf16 base's.
Issue 12 asks the quantised curves to stay within 2% of the bf16 base's.

The data is the pretraining tutorial's kind (arithmetic lines, World tokenizer, make-data), so
a random model has something to learn in 200 steps and the curves fall.

Usage: python3 test/bench/quant_curves.py OUT [--accel gpu|cpu] [--layers L --embd D]
         [--steps 200] [--ctx 512] [--bsz 2] [--lr 5e-4] [--speed-layers L --speed-embd D --speed-steps N]
The --speed-* run (optional) times a bigger model for a few steps per quant type: speed only.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from random import Random

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
EXE = os.environ.get("RWKV_TRAIN", os.path.join(ROOT, "dist", "bin", "rwkv-train"))
QUANTS = ["none", "int8", "nf4"]


def run(cmd, log):
    with open(log, "w") as f:
        return subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT).returncode


def make_data(work, ctx):
    rng = Random(7)
    path = os.path.join(work, "arith.jsonl")
    with open(path, "w") as f:
        for _ in range(3000):
            parts = []
            for _ in range(4):
                a, b = rng.randrange(100), rng.randrange(100)
                parts.append("%d+%d=%d" % (a, b, a + b))
            f.write(json.dumps({"text": "User: " + ", ".join(parts) + "\n\nAssistant: ok"}) + "\n")
    prefix = os.path.join(work, "arith")
    rc = run([EXE, "make-data", path, prefix, "--ctx_len", str(ctx)], os.path.join(work, "make_data.log"))
    if rc != 0:
        sys.exit("make-data failed: see %s" % os.path.join(work, "make_data.log"))
    return prefix


def make_model(work, L, D):
    path = os.path.join(work, "x070_L%d_D%d.pth" % (L, D))
    if not os.path.exists(path):
        rc = run([EXE, "init", path, "--n_layer", str(L), "--n_embd", str(D), "--vocab_size", "65536"],
                 os.path.join(work, "init_L%d_D%d.log" % (L, D)))
        if rc != 0:
            sys.exit("init failed for L%d D%d" % (L, D))
    return path


def train(work, name, model, data, L, D, a, quant, steps):
    # --peft_config (the newest RWKV-PEFT form): an epoch is epoch_steps samples, epoch_steps / micro_bsz steps
    proj = os.path.join(work, name)
    shutil.rmtree(proj, ignore_errors=True)  # a fresh run each time, never a resume of the last
    os.makedirs(proj)
    cmd = [EXE, "--load_model", model, "--proj_dir", proj, "--data_file", data, "--data_type", "binidx",
           "--vocab_size", "65536", "--n_layer", str(L), "--n_embd", str(D), "--ctx_len", str(a.ctx),
           "--micro_bsz", str(a.bsz), "--epoch_steps", str(steps * a.bsz), "--epoch_count", "1", "--epoch_save", "0",
           "--lr_init", str(a.lr), "--lr_final", str(a.lr), "--warmup_steps", "0", "--accelerator", a.accel,
           "--precision", "bf16", "--devices", "1", "--strategy", "deepspeed_stage_1", "--grad_cp", "1",
           "--my_testing", "x070", "--peft", "lora", "--peft_config", '{"r":64,"lora_alpha":32,"lora_dropout":0}',
           "--merge", "0"]
    if quant != "none":
        cmd += ["--quant", quant]
    t = time.time()
    log = os.path.join(work, name + ".jsonl")
    rc = run(cmd, log)
    losses, tps, error = [], [], None
    for line in open(log):
        if not line.startswith("{"):
            continue
        ev = json.loads(line)
        if ev.get("event") == "step":
            losses.append(ev["loss"])
            tps.append(ev.get("tokens_per_s", 0))
        elif ev.get("event") == "error":
            error = "%s: %s" % (ev.get("code"), ev.get("message"))
    return {"rc": rc, "losses": losses, "tokens_per_s": statistics.median(tps[5:]) if len(tps) > 5 else None,
            "error": error, "wall_s": round(time.time() - t, 1)}


def running_mean(xs, w=10):
    return [sum(xs[max(0, i - w + 1):i + 1]) / (i + 1 - max(0, i - w + 1)) for i in range(len(xs))]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--accel", default="gpu")
    p.add_argument("--layers", type=int, default=12)
    p.add_argument("--embd", type=int, default=768)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--ctx", type=int, default=512)
    p.add_argument("--bsz", type=int, default=2)
    p.add_argument("--lr", type=float, default=5e-4)  # high for LoRA, so a random model's curve falls
    p.add_argument("--speed-layers", type=int, default=0)
    p.add_argument("--speed-embd", type=int, default=0)
    p.add_argument("--speed-steps", type=int, default=16)
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    work = os.environ.get("QUANT_CURVES_WORK", "/tmp/rwkv_quant_curves")
    os.makedirs(work, exist_ok=True)
    data = make_data(work, a.ctx)
    model = make_model(work, a.layers, a.embd)
    curves = {q: train(work, "L%d_D%d_%s" % (a.layers, a.embd, q), model, data, a.layers, a.embd, a, q, a.steps)
              for q in QUANTS}
    base = curves["none"]
    rows = []
    for q in QUANTS:
        c = curves[q]
        row = {"quant": q, "rc": c["rc"], "error": c["error"], "steps": len(c["losses"]),
               "first_loss": c["losses"][0] if c["losses"] else None,
               "last20_loss": statistics.mean(c["losses"][-20:]) if len(c["losses"]) >= 20 else None,
               "tokens_per_s": c["tokens_per_s"], "wall_s": c["wall_s"]}
        if c["losses"] and len(c["losses"]) == len(base["losses"]):
            mc, mb = running_mean(c["losses"]), running_mean(base["losses"])
            row["worst_rel_running_mean"] = max(abs(x - y) / abs(y) for x, y in zip(mc, mb))
            if row["last20_loss"] is not None:  # a run of fewer than 20 steps has none
                base20 = statistics.mean(base["losses"][-20:])
                row["rel_last20"] = abs(row["last20_loss"] - base20) / base20
        if c["tokens_per_s"] and base["tokens_per_s"]:
            row["speed_vs_bf16"] = c["tokens_per_s"] / base["tokens_per_s"]
        rows.append(row)
    speed = []
    if a.speed_layers:
        big = make_model(work, a.speed_layers, a.speed_embd)
        for q in QUANTS:
            r = train(work, "L%d_D%d_%s_speed" % (a.speed_layers, a.speed_embd, q), big, data, a.speed_layers,
                      a.speed_embd, a, q, a.speed_steps)
            speed.append({"quant": q, "rc": r["rc"], "error": r["error"], "tokens_per_s": r["tokens_per_s"]})
        b = speed[0]["tokens_per_s"]
        for s in speed:
            s["speed_vs_bf16"] = s["tokens_per_s"] / b if s["tokens_per_s"] and b else None
    fmt = lambda x, f="%.4f": "n/a" if x is None else f % x
    lines = ["# --quant against the bf16 base: LoRA r64, L%d D%d, ctx %d, micro_bsz %d, %d steps, %s" %
             (a.layers, a.embd, a.ctx, a.bsz, a.steps, a.accel), "",
             "| quant | steps | first loss | last 20 mean | worst rel. diff (10-step mean) vs bf16 | last 20 rel. diff | tokens/s | speed vs bf16 |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append("| %s | %d | %s | %s | %s | %s | %s | %s |" % (
            r["quant"], r["steps"], fmt(r["first_loss"]), fmt(r["last20_loss"]),
            fmt(r.get("worst_rel_running_mean"), "%.2e"), fmt(r.get("rel_last20"), "%.2e"),
            fmt(r["tokens_per_s"], "%.0f"), fmt(r.get("speed_vs_bf16"), "%.2f")) + (" %s" % r["error"] if r["error"] else ""))
    if speed:
        lines += ["", "Speed at L%d D%d (%d steps):" % (a.speed_layers, a.speed_embd, a.speed_steps), "",
                  "| quant | tokens/s | speed vs bf16 |", "|---|---|---|"]
        for s in speed:
            lines.append("| %s | %s | %s |" % (s["quant"], fmt(s["tokens_per_s"], "%.0f"), fmt(s["speed_vs_bf16"], "%.2f"))
                         + (" %s" % s["error"] if s["error"] else ""))
    table = "\n".join(lines) + "\n"
    print(table)
    open(os.path.join(a.out, "quant_curves.md"), "w").write(table)
    json.dump({"rows": rows, "speed": speed, "curves": {q: curves[q]["losses"] for q in QUANTS}},
              open(os.path.join(a.out, "quant_curves.json"), "w"))
    ok = all(r["rc"] == 0 for r in rows) and all(r.get("worst_rel_running_mean", 1) <= 0.02 for r in rows)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
