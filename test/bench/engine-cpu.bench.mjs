// `npm run bench` → the engine's CPU backend against PyTorch on the CPU, same model, same batch.
// The model is the demo's (x070, L2 D128, vocab 256; micro_bsz 8, ctx_len 64) made by
// `rwkv-train init`. The PyTorch side is test/bench/torch_rwkv7_cpu.py, which first requires its
// logits to equal the engine's (so both time the same model), then both time training steps
// (forward, backward, AdamW) with the same thread counts. Prints a table of tokens/s and the
// ratio ours/PyTorch; BENCH_SAVE=1 also writes test/bench/results/engine_cpu_bench.{md,json}.
// Without a Python that can import torch it prints a skip and exits 0.
//
// Environment: BENCH_CPU_THREADS (comma list, default "1,2" plus every core when there are
// more), BENCH_CPU_STEPS (default 10), BENCH_PYTHON (a python with torch; default: the first of
// python3, /usr/bin/python3 that imports it).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const engineBin = join(root, 'dist/bin/rwkv-train');
const buildDir = join(root, 'build/engine');

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  return { code: r.status ?? 1, out: r.stdout ?? '', err: r.stderr ?? '' };
}

const candidates = process.env.BENCH_PYTHON ? [process.env.BENCH_PYTHON] : ['python3', '/usr/bin/python3'];
const python = candidates.find((p) => run(p, ['-c', 'import torch']).code === 0);
if (!python) {
  console.log(`engine CPU bench: SKIPPED: no Python with torch (tried ${candidates.join(', ')}). ` +
    'Install PyTorch (Debian: apt-get install python3-torch) or set BENCH_PYTHON to measure the ' +
    'CPU backend against PyTorch.');
  process.exit(0);
}
if (!existsSync(engineBin) || !existsSync(join(buildDir, 'CMakeCache.txt'))) {
  console.error('engine CPU bench: the engine is not built; run `npm run build` first (`npm run bench` does).');
  process.exit(1);
}
const tool = run('cmake', ['--build', buildDir, '--target', 'parity_dump', '-j', '2']);
if (tool.code !== 0) {
  console.error(`engine CPU bench: building parity_dump failed:\n${tool.out}${tool.err}`);
  process.exit(1);
}

const cores = availableParallelism();
const threads = process.env.BENCH_CPU_THREADS ?? [...new Set([1, 2, cores].filter((t) => t <= cores))].join(',');
const steps = process.env.BENCH_CPU_STEPS ?? '10';
const work = mkdtempSync(join(tmpdir(), 'rwkv-cpu-bench-'));
try {
  const model = join(work, 'demo.pth');
  const init = run(engineBin, ['init', model, '--n_layer', '2', '--n_embd', '128', '--vocab_size', '256', '--seed', '1', '--dtype', 'fp32']);
  if (init.code !== 0) throw new Error(`rwkv-train init failed: ${init.err}`);
  const peer = run(python, [join(root, 'test/bench/torch_rwkv7_cpu.py'), model, join(buildDir, 'tools/parity_dump'), work, threads, steps]);
  const lines = peer.out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const failure = lines.find((l) => l.error);
  if (peer.code !== 0 || failure) {
    console.error(`engine CPU bench failed: ${failure?.error ?? ''}\n${peer.out}${peer.err.slice(-3000)}`);
    process.exit(1);
  }
  const summary = lines.at(-1);
  const header = `CPU backend vs PyTorch ${summary.torch} on the CPU (${cores} cores here): demo model x070 L2 D128 vocab 256, ` +
    `micro_bsz 8, ctx_len 64, fp32, one step = forward + backward + AdamW, ${steps} timed steps after a warm-up.\n` +
    `Same model check: logits max |diff| / max |ref| = ${summary.logits_max_rel_diff.toExponential(2)} (bar 1e-4).`;
  const table = [
    '| threads | ours tokens/s | PyTorch tokens/s | ours / PyTorch |',
    '|---:|---:|---:|---:|',
    ...summary.summary.map((r) => `| ${r.threads} | ${r.ours_tokens_per_s.toFixed(0)} | ${r.pytorch_tokens_per_s.toFixed(0)} | ${r.ratio.toFixed(2)}x |`),
  ].join('\n');
  console.log(`${header}\n\n${table}`);
  if (process.env.BENCH_SAVE === '1') {
    const dir = join(root, 'test/bench/results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'engine_cpu_bench.md'), `${header}\n\n${table}\n`);
    writeFileSync(join(dir, 'engine_cpu_bench.json'), `${JSON.stringify({ cores, steps: Number(steps), ...summary }, null, 1)}\n`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
