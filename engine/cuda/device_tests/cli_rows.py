#!/usr/bin/env python3
"""The tutorials' memory rows, run through the real CLI (dist/bin/rwkv-train) on one GPU.

Called by run_cli_rows.sh after the build (see there for the environment variables). Standard
library only: the GPU machine has python3 but no internet.

For each row: a random x070 checkpoint (cached under $CACHE/models, made with `rwkv-train init`),
a random-token binidx dataset (cached too), `rwkv-train` with the tutorial script's own flags
(only paths, sizes and the step count changed), `nvidia-smi --query-gpu=memory.used -lms 100`
sampled in the background, and the run's stdout events (one JSON object a line) parsed for the
planned memory, the step events' memory and tokens/s, warnings, errors and the end status.

Units: the tutorials' "GB" is GiB. The pretraining table says "6540MB(6.39GB)", i.e. nvidia-smi's
MiB divided by 1024, so every GB figure here is GiB = 2^30 bytes = nvidia-smi MiB / 1024.
"""
import json
import os
import pty
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import threading
import time
from array import array
from random import Random

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
EXE = os.environ.get("RWKV_TRAIN", os.path.join(ROOT, "dist", "bin", "rwkv-train"))
GIB = float(1 << 30)


def env_int(name, default):
    v = os.environ.get(name, "")
    return int(v) if v.strip() else default


ACCEL = os.environ.get("ACCEL", "gpu")
TINY = os.environ.get("SIZES_TINY", "1" if ACCEL == "cpu" else "0") == "1"
STEPS = env_int("STEPS", 4 if TINY else 8)
ROW_TIMEOUT = env_int("ROW_TIMEOUT", 600 if ACCEL == "cpu" else 120)
SAVE_WAIT = env_int("SAVE_WAIT", 20)      # seconds after the last step event before the run is killed
T0 = float(os.environ.get("CLI_ROWS_T0", time.time()))
DEADLINE = T0 + env_int("DEADLINE_S", 100000 if ACCEL == "cpu" else 400)
CACHE = os.environ.get("CACHE", "/tmp/rwkv_cli_rows")
OOM_CODE = os.environ.get("OOM_CODE", "E_CUDA_OOM")
GPU_INDEX = os.environ.get("GPU_INDEX", "0")
NCORES = os.cpu_count() or 1
VOCAB = 65536

# Model sizes: the tutorials' table (n_layer, n_embd); tiny stand-ins for a CPU test of the script.
# "v6-" sizes are RWKV-6 (x060) models: the tutorials' RWKV-6 LoRA rows (issue 12).
SIZES = {"0.1b": (12, 768), "0.4b": (24, 1024), "1.5b": (24, 2048), "2.9b": (32, 2560),
         "v6-1.6b": (24, 2048), "v6-3b": (32, 2560), "v6-7b": (32, 4096)}
TINY_SIZES = {"0.1b": (2, 64), "0.4b": (2, 128), "1.5b": (3, 128), "2.9b": (2, 192),
              "v6-1.6b": (2, 64), "v6-3b": (2, 128), "v6-7b": (2, 192)}
CTX_FT, CTX_PT = (32, 64) if TINY else (1024, 4096)

# Bars in GiB, from the tutorials' tables (bf16 column; pretraining: micro_bsz 1, ctx 4096).
BARS = {
    "lora": {"0.1b": 2.7, "0.4b": 3.4, "1.5b": 5.6, "2.9b": 8.8},   # LoRA tutorial
    "miss": {"0.1b": 2.7, "0.4b": 3.1, "1.5b": 5.6, "2.9b": 8.8},   # MiSS tutorial (0.4B: 3.1)
    "pissa": {"0.1b": 2.7, "0.4b": 3.4, "1.5b": 5.6, "2.9b": 8.8},  # PiSSA gives RWKV-6 only; LoRA's bars
    "state": {"0.1b": 2.6, "0.4b": 3.1, "1.5b": 5.3, "2.9b": 8.2},
    "pretrain": {"0.1b": 6.4, "0.4b": 12.1, "1.5b": 41.1},          # 6540 / 12414 / 42104 MiB
}
# The LoRA tutorial's RWKV-6 rows (ctx_len 1024, micro_bsz 1, r 64, bf16), run only when asked
# (ROWS=lora-v6-*): the GPU trains x060 behind RWKV_CUDA_X060 until a device run verifies it.
V6_BARS = {"v6-1.6b": 7.3, "v6-3b": 11.8, "v6-7b": 23.7}
# The LoRA tutorial's int8 / nf4 columns (ctx_len 1024, micro_bsz 1, r 64).
QUANT_BARS = {
    "int8": {"0.1b": 2.5, "0.4b": 2.9, "1.5b": 4.6, "2.9b": 6.7},
    "nf4": {"0.1b": 2.4, "0.4b": 2.7, "1.5b": 3.9, "2.9b": 5.7},
}


def dims(size):
    return (TINY_SIZES if TINY else SIZES)[size]


def version_of(size):
    return "x060" if size.startswith("v6-") else "x070"


def param_counts(size):
    """(total, block-linear) parameter counts of an x070 model (rough: the LoRA-sized mixers left out)."""
    L, D = dims(size)
    linear = L * (4 * D * D + 2 * D * 4 * D)
    return linear + 2 * VOCAB * D, linear


# ---------------------------------------------------------------- rows

def all_rows():
    """In run order: every row of a size runs once its model exists; what a short time budget
    drops first (PiSSA's CPU SVD init at 1.5B/2.9B) comes last."""
    rows = []
    for size in ["0.1b", "0.4b", "1.5b", "2.9b"]:
        for kind in ["lora", "state", "miss", "pissa", "pretrain", "oom"]:
            if kind == "pretrain" and size == "2.9b":
                continue
            if kind == "oom" and size != "1.5b":
                continue
            name = ("%s-%s" % (kind, size))
            bar = None if kind == "oom" or TINY else BARS[kind][size]
            rows.append({"name": name, "kind": kind, "size": size, "bar_gib": bar})
    late = [r for r in rows if r["kind"] == "pissa" and r["size"] in ("1.5b", "2.9b")]
    # The bench's configurations (test/bench/engine.bench.mjs) with the peer's flags
    # (../shared/peer/run1.sh): the bar is 0.6x RWKV-PEFT's grad_cp 1 peak measured on an H100
    # (peer_mib, test/bench/results/engine_bench_h100_*_stdout.txt).
    bench = []
    for size, peft, ctx, bsz, peer_mib in [("0.1b", "lora", 1024, 8, 5869), ("1.5b", "lora", 1024, 8, 10185),
                                           ("1.5b", "lora", 4096, 1, 7255), ("0.1b", "full", 4096, 8, 23747),
                                           ("2.9b", "lora", 1024, 8, None), ("1.5b", "full", 4096, 4, None)]:
        bench.append({"name": "bench-%s-%s-%dx%d" % (peft, size, ctx, bsz), "kind": "bench", "size": size,
                      "bar_gib": None if TINY or peer_mib is None else 0.6 * peer_mib / 1024, "peft": peft,
                      "ctx": 32 if TINY else ctx, "bsz": bsz, "peer_mib": peer_mib})
    # The same bench configs with the pass size (core/batch_passes.h, RWKV_PASS_TOKENS) set: 0 runs
    # the micro-batch at once (what the engine did before passes), 2048 halves the default's.
    variants = []
    for r in bench:
        if r["bsz"] > 1 and r["peft"] == "lora":
            for tokens in ("0", "2048"):
                v = dict(r, name=r["name"] + "-pass" + tokens, env={"RWKV_PASS_TOKENS": tokens})
                variants.append(v)
    # One allocation for every long-lived tensor (RWKV_CUDA_PARAM_SLAB, cuda/param_slab.h)
    # against a block each, on the row where 2 MiB rounding costs most (2.9B: 12.5 MiB matrices).
    for r in rows:
        if r["name"] == "lora-2.9b":
            for flag in ("0", "1"):
                variants.append(dict(r, name="lora-2.9b-slab" + flag, env={"RWKV_CUDA_PARAM_SLAB": flag}))
    # The LoRA tutorial's quantised columns (--quant int8 / nf4, issue 12): the frozen base stored
    # quantised on the GPU (RWKV_CUDA_QUANT, cuda/quant_dequant.cu).
    quant = []
    for r in rows:
        if r["kind"] == "lora":
            for q in ("int8", "nf4"):
                bar = None if TINY else QUANT_BARS[q][r["size"]]
                quant.append(dict(r, name="%s-%s" % (r["name"], q), quant=q, bar_gib=bar,
                                  env={"RWKV_CUDA_QUANT": "1"}))
    v6 = [{"name": "lora-" + size, "kind": "lora", "size": size, "bar_gib": None if TINY else bar,
           "env": {"RWKV_CUDA_X060": os.environ.get("RWKV_CUDA_X060", "1")}, "explicit": True}
          for size, bar in V6_BARS.items()]
    return [r for r in rows if r not in late] + late + bench + variants + quant + v6


def select_rows(rows):
    want = [w.strip() for w in os.environ.get("ROWS", "").split(",") if w.strip()]
    if not want:
        return [r for r in rows if not r.get("explicit")]
    import fnmatch
    # in the order of the patterns (a short device call runs what matters most first), each
    # pattern's rows in run order
    picked = []
    for w in want:
        picked += [r for r in rows if fnmatch.fnmatch(r["name"], w) and r not in picked]
    unknown = [w for w in want if not any(fnmatch.fnmatch(r["name"], w) for r in rows)]
    if unknown:
        print("cli_rows: no row matches %s; rows: %s" % (unknown, " ".join(r["name"] for r in rows)))
    return picked


def row_flags(row, model, data, proj, mp, lora_dropout="0.05"):
    """The tutorial script's flags for this row; only paths, sizes and the step count differ."""
    kind, (L, D) = row["kind"], dims(row["size"])
    steps = ["--epoch_steps", str(STEPS), "--epoch_count", "1"]
    common = ["--load_model", model, "--proj_dir", proj, "--data_file", data]
    if kind == "pretrain":
        # RWKV-LM-V7 demo-training-run.sh as the pretraining tutorial lists it. --load_model "0"
        # (continue from proj_dir) becomes the cached random init; LR_INIT 0.45/n_embd and
        # LR_FINAL 0.04/n_embd as the tutorial says; --epoch_count 999999 with
        # --my_exit_tokens becomes a few steps; epoch_steps (RWKV-LM derives it) is given.
        return common + [
            "--wandb", "", "--my_testing", "x070", "--ctx_len", str(CTX_PT), "--train_stage", "3",
            "--epoch_begin", "0", "--my_exit_tokens", str(mp["my_exit_tokens"]),
            "--magic_prime", str(mp["magic_prime"]), "--num_nodes", "1", "--micro_bsz", "1",
            "--n_layer", str(L), "--n_embd", str(D), "--lr_init", "%.2g" % (0.45 / D), "--lr_final", "%.2g" % (0.04 / D),
            "--warmup_steps", "10", "--beta1", "0.9", "--beta2", "0.99", "--adam_eps", "1e-18",
            "--data_type", "binidx", "--vocab_size", str(VOCAB), "--weight_decay", "0.001",
            "--epoch_save", "10", "--head_size", "64", "--accelerator", ACCEL, "--devices", "1",
            "--precision", "bf16", "--strategy", "deepspeed_stage_2", "--grad_cp", "1",
            "--enable_progress_bar", "True", "--ds_bucket_mb", "200"] + steps
    if kind == "bench":
        lr = "2e-5" if row["peft"] == "lora" else "6e-4"
        flags = common + [
            "--data_type", "binidx", "--dataload", "pad", "--vocab_size", str(VOCAB), "--n_layer", str(L),
            "--n_embd", str(D), "--ctx_len", str(row["ctx"]), "--micro_bsz", str(row["bsz"]), "--epoch_begin", "0",
            "--epoch_save", "0", "--lr_init", lr, "--lr_final", lr, "--warmup_steps", "0", "--beta1", "0.9",
            "--beta2", "0.99", "--adam_eps", "1e-8", "--accelerator", ACCEL, "--devices", "1", "--precision", "bf16",
            "--strategy", "auto", "--grad_cp", "1", "--my_testing", "x070", "--op", "cuda"] + steps
        if row["peft"] == "lora":
            flags += ["--peft", "lora", "--lora_config",
                      '{"lora_load":"","lora_r":64,"lora_alpha":128,"lora_dropout":0.0}', "--merge", "0"]
        return flags
    if kind == "pissa":
        # scripts/run_pissa.sh of the PiSSA tutorial, at the memory table's ctxlen 1024 /
        # micro_bsz 1 and r 64 (its script says 32); my_testing x060 -> x070.
        return common + [
            "--data_type", "binidx", "--vocab_size", str(VOCAB), "--ctx_len", str(CTX_FT),
            "--epoch_begin", "0", "--epoch_save", "1", "--micro_bsz", "1",
            "--n_layer", str(L), "--n_embd", str(D), "--pre_ffn", "0", "--head_qk", "0",
            "--lr_init", "2e-5", "--lr_final", "2e-5", "--warmup_steps", "0", "--beta1", "0.9",
            "--beta2", "0.99", "--adam_eps", "1e-8", "--accelerator", ACCEL, "--devices", "1",
            "--precision", "bf16", "--strategy", "deepspeed_stage_1", "--grad_cp", "1",
            "--my_testing", "x070", "--dataload", "pad", "--loss_mask", "pad", "--peft", "pissa",
            "--pissa_config", '{"pissa_load":"","pissa_init":"","pissa_r":64,"svd_niter":4}'] + steps
    # run_lora.sh / miss.sh (their flags are the same but for --peft and --peft_config);
    # data_type jsonl -> binidx (our random data), micro_bsz/ctx_len as the memory tables.
    ctx, bsz, grad_cp = CTX_FT, 1, "1"
    if kind == "oom":  # the planted OOM: 1.5B LoRA, micro_bsz 512 at ctx 4096, grad_cp 0
        ctx, bsz, grad_cp = CTX_PT, 512, "0"
    flags = common + [
        "--vocab_size", str(VOCAB), "--data_type", "binidx", "--n_layer", str(L), "--n_embd", str(D),
        "--ctx_len", str(ctx), "--micro_bsz", str(bsz)] + steps + [
        "--epoch_save", "1", "--lr_init", "1e-5", "--lr_final", "1e-5", "--accelerator", ACCEL,
        "--precision", "bf16", "--devices", "1", "--strategy", "deepspeed_stage_1", "--grad_cp", grad_cp,
        "--my_testing", version_of(row["size"])]
    if kind in ("lora", "oom"):
        # the LoRA memory table's peft_config; --merge 0 keeps the (host-side) merge of the
        # whole model out of the run: it only changes what the final checkpoint holds
        cfg = '{"r":64,"lora_alpha":32,"lora_dropout":%s}' % lora_dropout
        quant = ["--quant", row["quant"]] if row.get("quant") else []
        return flags + ["--peft", "lora", "--peft_config", cfg, "--merge", "0"] + quant
    if kind == "miss":
        return flags + ["--peft", "miss", "--peft_config", '{"r":64}', "--merge", "0"]
    if kind == "state":
        return flags + ["--peft", "state"]
    raise ValueError(kind)


def estimate_s(row):
    """Rough wall seconds on one H100 + 16 cores (tiny/CPU mode: just a guess)."""
    total, linear = param_counts(row["size"])
    if TINY:
        return 3.0 + STEPS * 1.0 + (3.0 if row["kind"] == "pissa" else 0.0)
    load = 2.0 + total * 2 / 1.5e9                 # read the bf16 .pth, upload, cuBLASLt
    kind = row["kind"]
    if kind == "oom":
        return load + 3.0
    ctx = CTX_PT if kind == "pretrain" else CTX_FT
    if kind == "bench":
        ctx = row["ctx"] * row["bsz"]
    flops = (6 if kind == "pretrain" or row.get("peft") == "full" else 4) * total * ctx
    steps = STEPS * max(0.05, flops / 100e12)
    save = 1.0
    if kind == "pretrain":                         # rwkv-0.pth (bf16) + resume (fp32 weights + Adam)
        save = min(SAVE_WAIT, 1.0 + total * 14 / 1.0e9)
    pissa = 50.0 * linear / 85e6 / NCORES if kind == "pissa" else 0.0   # 50 core-s for 0.1B
    return load + steps + save + pissa


def init_estimate_s(size):
    L, D = dims(size)
    total, _ = param_counts(size)
    head = 26.0 * (D / 768.0) ** 2 / max(1, NCORES // 2)   # orthogonal head: 26 core-s at D768
    return 1.0 + head + total * 1.5e-8 + total * 2 / 1.0e9


# ---------------------------------------------------------------- models and data

class Models:
    """`rwkv-train init` for every size the rows need, all at once (nice'd), cached."""

    def __init__(self, sizes, out_dir):
        self.procs, self.paths, self.t0 = {}, {}, {}
        os.makedirs(os.path.join(CACHE, "models"), exist_ok=True)
        env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
        for size in sizes:
            L, D = dims(size)
            path = os.path.join(CACHE, "models", "%s_L%d_D%d_V%d.pth" % (version_of(size), L, D, VOCAB))
            self.paths[size] = path
            if os.path.exists(path):
                print("model %s: cached %s" % (size, path))
                continue
            log = open(os.path.join(out_dir, "init_%s.log" % size), "w")
            cmd = ["nice", "-n", "10", EXE, "init", path, "--n_layer", str(L), "--n_embd", str(D),
                   "--vocab_size", str(VOCAB), "--my_testing", version_of(size)]
            print("model %s: init L%d D%d (estimate %.0f s)" % (size, L, D, init_estimate_s(size)))
            self.t0[size] = time.time()
            self.procs[size] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)

    def busy(self):
        return [s for s, p in self.procs.items() if p.poll() is None]

    def wait(self, size):
        p = self.procs.get(size)
        if p is not None and p.returncode is None:
            p.wait()
            print("model %s: ready after %.1f s" % (size, time.time() - self.t0[size]))
        if p is not None and p.returncode != 0:
            return None
        return self.paths[size] if os.path.exists(self.paths[size]) else None


def make_data():
    """Random-token binidx (Megatron MMIDIDX v1, uint16): 64 documents of 4097 tokens, enough
    for every row (a document per fine-tuning sample, cycled; magic_prime windows for
    pretraining). Documents longer than ctx_len + 1 are cut to their first window."""
    ndoc, doc_len = 64, CTX_PT + 1
    os.makedirs(os.path.join(CACHE, "data"), exist_ok=True)
    prefix = os.path.join(CACHE, "data", "random_%dx%d" % (ndoc, doc_len))
    if not (os.path.exists(prefix + ".bin") and os.path.exists(prefix + ".idx")):
        rng = Random(1234)
        tokens = array("H", (rng.randrange(1, VOCAB) for _ in range(ndoc * doc_len)))
        with open(prefix + ".bin.tmp", "wb") as f:
            f.write(tokens.tobytes())
        with open(prefix + ".idx.tmp", "wb") as f:
            f.write(b"MMIDIDX\x00\x00" + struct.pack("<QBQQ", 1, 8, ndoc, ndoc + 1))
            f.write(array("i", [doc_len] * ndoc).tobytes())                   # sizes
            f.write(array("q", [i * doc_len * 2 for i in range(ndoc)]).tobytes())  # byte offsets
            f.write(array("q", range(ndoc + 1)).tobytes())                    # doc_idx
        os.replace(prefix + ".bin.tmp", prefix + ".bin")
        os.replace(prefix + ".idx.tmp", prefix + ".idx")
    # my_exit_tokens / magic_prime for the pretraining ctx, from our own CLI (make_data.py's rule)
    out = subprocess.run([EXE, "inspect", prefix, "--ctx_len", str(CTX_PT)], capture_output=True, text=True)
    info = json.loads(out.stdout.strip().splitlines()[-1])
    return prefix, {"my_exit_tokens": info["my_exit_tokens"], "magic_prime": info["magic_prime"],
                    "tokens": info["tokens"]}


# ---------------------------------------------------------------- GPU memory sampling

def have_nvidia_smi():
    # SMI=1: sample nvidia-smi on a CPU run too (a test of the sampler with a stand-in nvidia-smi)
    return shutil.which("nvidia-smi") is not None and (ACCEL != "cpu" or os.environ.get("SMI") == "1")


class Sampler:
    """nvidia-smi memory.used (MiB) every 100 ms for the whole script (one nvidia-smi: its start
    costs about a second), read through a pty so it is never block-buffered; each sample is
    stamped with its arrival time and a row takes the samples of its own time span."""

    def __init__(self):
        self.samples = []
        cmd = ["nvidia-smi", "-i", GPU_INDEX, "--query-gpu=memory.used", "--format=csv,noheader,nounits", "-lms", "100"]
        try:
            master, slave = pty.openpty()
        except OSError:  # no pty here: a pipe, line-buffered by stdbuf where it exists
            master, slave = os.pipe()
            cmd = (["stdbuf", "-oL"] if shutil.which("stdbuf") else []) + cmd
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=slave, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        os.close(slave)
        self.fd = master
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        buf = b""
        while True:
            try:
                chunk = os.read(self.fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
            *lines, buf = buf.split(b"\n")
            now = time.time()
            for line in lines:
                try:
                    self.samples.append((now, int(line.strip())))
                except ValueError:
                    pass

    def wait_after(self, t, timeout=3.0):
        """The last sample, once one has arrived after time t (or the timeout passed)."""
        end = time.time() + timeout
        while (not self.samples or self.samples[-1][0] <= t) and time.time() < end and self.proc.poll() is None:
            time.sleep(0.02)
        return self.samples[-1][1] if self.samples else None

    def wait_idle(self, idle_mib, timeout=5.0):
        """Waits until a fresh sample is within 64 MiB of idle_mib (the last run's memory is
        released some time after its exit); returns (sample, idle reached)."""
        t, end = time.time(), time.time() + timeout
        while time.time() < end and self.proc.poll() is None:
            fresh = [v for ts, v in self.samples if ts > t]
            if fresh and fresh[-1] <= idle_mib + 64:
                return fresh[-1], True
            time.sleep(0.02)
        recent = [v for ts, v in self.samples if ts > t]
        return (min(recent) if recent else None), False

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.thread.join(timeout=2)
        try:
            os.close(self.fd)
        except OSError:
            pass

    def peak(self, t_from, t_to):
        vals = [v for t, v in self.samples if t_from <= t <= t_to]
        return max(vals) if vals else None


# ---------------------------------------------------------------- one run

def run_once(row, flags, out_dir, tag, sampler):
    """Runs rwkv-train once; returns what its events and the sampler said."""
    baseline, idle = sampler.wait_idle(sampler.idle_mib) if sampler else (None, None)
    t_launch = time.time()
    # never past the deadline by more than a minute
    limit = int(min(ROW_TIMEOUT, max(20, DEADLINE + 60 - t_launch)))
    stdout_path = os.path.join(out_dir, "rows", tag + ".jsonl")
    stderr_path = os.path.join(out_dir, "rows", tag + ".stderr.log")
    with open(os.path.join(out_dir, "rows", tag + ".cmd"), "w") as f:
        f.write(" ".join(json.dumps(a) if (not a or any(c in a for c in " {}\"'")) else a for a in [EXE] + flags) + "\n")
    err = open(stderr_path, "wb")
    env = dict(os.environ, **row.get("env", {}))
    proc = subprocess.Popen(["timeout", "-k", "5", str(limit), EXE] + flags, stdout=subprocess.PIPE,
                            stderr=err, stdin=subprocess.DEVNULL, start_new_session=True, env=env)
    events = []  # (arrival time, event dict)

    def read_events():
        with open(stdout_path, "wb") as log:
            for line in proc.stdout:
                log.write(line)
                log.flush()
                try:
                    ev = json.loads(line)
                except ValueError:
                    continue
                if isinstance(ev, dict):
                    events.append((time.time(), ev))

    reader = threading.Thread(target=read_events, daemon=True)
    reader.start()
    killed_in_save = False
    while proc.poll() is None:
        time.sleep(0.1)
        steps = [t for t, e in events if e.get("event") == "step"]
        if len(steps) >= STEPS and time.time() - steps[-1] > SAVE_WAIT and not any(
                e.get("event") == "end" for _, e in events):
            killed_in_save = True
            os.killpg(proc.pid, signal.SIGKILL)
            break
    rc = proc.wait()
    reader.join(timeout=5)
    err.close()
    t_exit = time.time()
    if sampler:
        sampler.wait_after(t_exit + 0.1)  # the samples up to the exit have arrived

    by = lambda name: [e for _, e in events if e.get("event") == name]
    start = (by("start") or [None])[0]
    steps = by("step")
    ends = by("end")
    errors = by("error")
    step_times = [t for t, e in events if e.get("event") == "step"]
    r = {"rc": rc, "timeout_s": limit, "killed_in_save": killed_in_save, "timed_out": rc in (124, 137) and not killed_in_save,
         "wall_s": round(t_exit - t_launch, 2), "steps_done": len(steps),
         "end_status": ends[-1].get("status") if ends else None,
         "errors": [{"code": e.get("code"), "message": e.get("message"), "hint": e.get("hint")} for e in errors],
         "warnings": sorted({e.get("code") for e in by("warning")})}
    if start:
        r["planned_bytes"] = start.get("planned_memory_bytes")
        r["plan"] = start.get("plan")
        r["params"] = start.get("params")
        r["device"] = start.get("device")
        r["data"] = start.get("data")
        r["start_s"] = round([t for t, e in events if e is start][0] - t_launch, 2)
    if steps:
        tps = [e.get("tokens_per_s", 0.0) for e in steps]
        later = tps[2:] if len(tps) > 2 else tps
        r["tokens_per_s"] = statistics.median(later)
        r["tokens_per_s_all"] = [round(x, 1) for x in tps]
        r["step_mem_used_bytes_max"] = max(e.get("gpu_mem_used_bytes", 0) for e in steps)
        r["step_mem_reserved_bytes_max"] = max(e.get("gpu_mem_reserved_bytes", 0) for e in steps)
        r["steps_s"] = round(step_times[-1] - (step_times[0] if len(step_times) > 1 else t_launch), 2)
        r["after_steps_s"] = round(t_exit - step_times[-1], 2)
    if sampler:
        r["smi_samples"] = len([1 for t, _ in sampler.samples if t_launch <= t <= t_exit + 0.2])
        r["baseline_mib"] = baseline
        r["gpu_idle_before"] = idle
        peak = sampler.peak(t_launch, t_exit + 0.2)
        r["peak_mib"] = peak
        if steps:
            r["peak_train_mib"] = sampler.peak(t_launch, step_times[-1] + 0.15)
    return r


def run_row(row, models, data, mp, out_dir, sampler):
    model = models.wait(row["size"])
    if model is None:
        return {"status": "no model (init failed, see init_%s.log)" % row["size"]}
    proj = os.path.join(CACHE, "proj", row["name"])
    shutil.rmtree(proj, ignore_errors=True)
    shutil.rmtree(proj + "-adapter", ignore_errors=True)
    busy = models.busy()
    r = run_once(row, row_flags(row, model, data, proj, mp), out_dir, row["name"], sampler)
    r["concurrent_inits"] = busy
    first_error = r["errors"][0] if r["errors"] else None
    if (row["kind"] in ("lora", "oom") and first_error and first_error["code"] == "E_CUDA_UNSUPPORTED"
            and "dropout" in (first_error["message"] or "")):
        # The LoRA table's lora_dropout 0.05 is refused on the GPU today: keep the refusal and
        # measure the same run with lora_dropout 0 (dropout's mask is a small share of memory).
        shutil.rmtree(proj, ignore_errors=True)
        shutil.rmtree(proj + "-adapter", ignore_errors=True)
        refused = r
        r = run_once(row, row_flags(row, model, data, proj, mp, lora_dropout="0"), out_dir, row["name"] + ".dropout0",
                     sampler)
        r["concurrent_inits"] = busy
        r["note"] = "lora_dropout 0.05 refused (%s); measured with lora_dropout 0" % first_error["code"]
        r["refused_first"] = {"errors": refused["errors"], "rc": refused["rc"]}
    shutil.rmtree(proj, ignore_errors=True)
    shutil.rmtree(proj + "-adapter", ignore_errors=True)
    r["status"] = status_of(row, r)
    return r


def status_of(row, r):
    codes = [e["code"] for e in r["errors"]]
    if row["kind"] == "oom":
        if r["timed_out"]:
            return "FAIL: hung (timeout %d s), expected %s" % (r["timeout_s"], OOM_CODE)
        if OOM_CODE in codes and r["rc"] != 0:
            return "ok: %s, exit %d" % (OOM_CODE, r["rc"])
        return "FAIL: expected %s, got %s (exit %d)" % (OOM_CODE, ",".join(codes) or "no error", r["rc"])
    if r["timed_out"]:
        return "timeout (%d s, %d steps)" % (r["timeout_s"], r["steps_done"])
    if "E_CUDA_UNSUPPORTED" in codes:
        return "refused: E_CUDA_UNSUPPORTED"
    if codes:
        return "error: " + ",".join(codes)
    if r["killed_in_save"]:
        return "%d steps ok; killed in final save (> %d s)" % (r["steps_done"], SAVE_WAIT)
    if r["end_status"] == "completed" and r["rc"] == 0:
        return "ok" + (" (dropout 0)" if r.get("note") else "")
    return "%s (exit %s)" % (r["end_status"] or "no end event", r["rc"])


# ---------------------------------------------------------------- report

def fmt(x, spec):
    return "n/a" if x is None else format(x, spec)


def derived(row, r):
    d = {}
    peak = r.get("peak_mib")
    base = r.get("baseline_mib") or 0
    d["peak_gib"] = None if peak is None else peak / 1024.0
    d["measured_gib"] = None if peak is None else (peak - base) / 1024.0
    d["planned_gib"] = None if r.get("planned_bytes") is None else r["planned_bytes"] / GIB
    d["ratio"] = (d["planned_gib"] / d["measured_gib"]) if d["planned_gib"] and d["measured_gib"] else None
    d["within_5pct"] = None if d["ratio"] is None else abs(d["ratio"] - 1.0) <= 0.05
    d["under_bar"] = None if (row["bar_gib"] is None or d["peak_gib"] is None) else d["peak_gib"] <= row["bar_gib"]
    d["step_reserved_gib"] = None if r.get("step_mem_reserved_bytes_max") is None else r["step_mem_reserved_bytes_max"] / GIB
    return d


def yn(b):
    return "n/a" if b is None else ("yes" if b else "NO")


def table(results):
    head = ("| row | bar GiB | peak GiB (nvidia-smi) | planned GiB | plan/measured | within ±5% | under bar | "
            "step reserved GiB | tokens/s | status | wall s (est) |")
    lines = [head, "|" + "---|" * 11]
    for row, r in results:
        d = derived(row, r)
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s (%s) |" % (
            row["name"], fmt(row["bar_gib"], ".1f"), fmt(d["peak_gib"], ".2f"), fmt(d["planned_gib"], ".2f"),
            fmt(d["ratio"], ".3f"), yn(d["within_5pct"]), yn(d["under_bar"]), fmt(d["step_reserved_gib"], ".2f"),
            fmt(r.get("tokens_per_s"), ",.0f"), r["status"], fmt(r.get("wall_s"), ".1f"), fmt(row["est_s"], ".0f")))
    return "\n".join(lines)


def main():
    out_dir = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "/tmp/cli_rows_out")
    os.makedirs(os.path.join(out_dir, "rows"), exist_ok=True)
    if not os.path.exists(EXE):
        sys.exit("cli_rows: %s does not exist (build it first: run_cli_rows.sh)" % EXE)
    rows = select_rows(all_rows())
    for row in rows:
        row["est_s"] = estimate_s(row)
    sizes = sorted({r["size"] for r in rows}, key=lambda s: list(SIZES).index(s))
    print("cli_rows: %d rows, accelerator %s%s, %d steps each, %d cores; deadline in %.0f s" % (
        len(rows), ACCEL, " (tiny models)" if TINY else "", STEPS, NCORES, DEADLINE - time.time()))
    print("estimated wall s per row: " + ", ".join("%s %.0f" % (r["name"], r["est_s"]) for r in rows))
    print("estimated total: %.0f s rows + model inits (in parallel, first run only)" % sum(r["est_s"] for r in rows))
    t_data = time.time()
    data, mp = make_data()
    print("data: %s (%d tokens; ctx %d: magic_prime %d) in %.1f s" % (data, mp["tokens"], CTX_PT, mp["magic_prime"],
                                                                      time.time() - t_data))
    models = Models(sizes, out_dir)
    smi, sampler = None, None
    if have_nvidia_smi():
        q = subprocess.run(["nvidia-smi", "-i", GPU_INDEX, "--query-gpu=name,driver_version,memory.total,memory.used",
                            "--format=csv,noheader"], capture_output=True, text=True)
        smi = q.stdout.strip()
        sampler = Sampler()
        sampler.idle_mib = sampler.wait_after(time.time())
        print("gpu: %s; idle memory.used %s MiB" % (smi, sampler.idle_mib))
    else:
        print("gpu: no nvidia-smi (or ACCEL=cpu): the memory columns are n/a")
    results = []
    for row in rows:
        left = DEADLINE - time.time()
        if row["kind"] == "oom" and ACCEL == "cpu":
            r = {"status": "skipped: GPU-only row (a CPU run would exhaust host memory)", "errors": []}
        elif left < row["est_s"]:
            r = {"status": "skipped: time budget (%.0f s left, estimate %.0f s)" % (max(0, left), row["est_s"]),
                 "errors": []}
        else:
            print("-- %s (estimate %.0f s)" % (row["name"], row["est_s"]), flush=True)
            try:
                r = run_row(row, models, data, mp, out_dir, sampler)
            except Exception as e:  # a failing row must not stop the others
                r = {"status": "script error: %r" % (e,), "errors": []}
        results.append((row, r))
        d = derived(row, r)
        print("   %s: %s | peak %s GiB, planned %s GiB, %s tokens/s, %s s" % (
            row["name"], r["status"], fmt(d["peak_gib"], ".2f"), fmt(d["planned_gib"], ".2f"),
            fmt(r.get("tokens_per_s"), ",.0f"), fmt(r.get("wall_s"), ".1f")), flush=True)
        if r.get("note"):
            print("   note: " + r["note"])
    if sampler:
        sampler.stop()
    for p in models.procs.values():  # inits no row waited for (rows skipped)
        if p.poll() is None:
            p.kill()
            p.wait()

    md = table(results)
    notes = [
        "",
        "GiB = 2^30 bytes = nvidia-smi MiB / 1024: the tutorials' GB (their pretraining table reads "
        "\"6540MB(6.39GB)\"). peak: the largest nvidia-smi memory.used (100 ms samples) while the run lived; "
        "measured = peak - the idle memory.used sampled just before it; plan/measured = planned_memory_bytes of "
        "the start event / measured. under bar: peak <= the tutorial's figure. tokens/s: median of the step "
        "events after the first 2. step reserved: the largest gpu_mem_reserved_bytes of the step events.",
        "",
        "accelerator %s%s, %d steps a row (--epoch_steps %d --epoch_count 1), cores %d, gpu: %s, total wall %.0f s" % (
            ACCEL, " (tiny models)" if TINY else "", STEPS, STEPS, NCORES, smi or "n/a", time.time() - T0),
    ]
    for row, r in results:
        extra = []
        if r.get("note"):
            extra.append(r["note"])
        for e in r.get("errors", []):
            extra.append("%s: %s" % (e["code"], e["message"]))
        if r.get("warnings"):
            extra.append("warnings " + ",".join(r["warnings"]))
        if r.get("concurrent_inits"):
            extra.append("ran while model inits %s were running (nice'd)" % ",".join(r["concurrent_inits"]))
        if extra:
            notes.append("- %s: %s" % (row["name"], "; ".join(extra)))
    with open(os.path.join(out_dir, "cli_rows.md"), "w") as f:
        f.write("# rwkv-train memory rows\n\n" + md + "\n" + "\n".join(notes) + "\n")
    doc = {"accelerator": ACCEL, "tiny": TINY, "steps": STEPS, "gpu": smi, "cores": NCORES,
           "units": "GiB = 2^30 bytes = nvidia-smi MiB / 1024", "oom_code_expected": OOM_CODE,
           "total_wall_s": round(time.time() - T0, 1), "rows": []}
    for row, r in results:
        doc["rows"].append(dict(row, **r, **derived(row, r)))
    with open(os.path.join(out_dir, "cli_rows.json"), "w") as f:
        json.dump(doc, f, indent=1)
    print()
    print(md)
    print("\n".join(notes))
    print("\nwrote %s/cli_rows.md and cli_rows.json" % out_dir)


if __name__ == "__main__":
    main()
