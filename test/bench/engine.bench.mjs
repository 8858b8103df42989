// `npm run bench` → the engine on the GPU against RWKV-PEFT (the peer) on the same GPU, same
// random checkpoint and data. Prints one table (tokens/s, peak GPU memory, our/their ratios,
// MFU against the bf16 GEMM rate measured in the same run) and, with BENCH_SAVE=1, writes it to
// test/bench/results/engine_bench[_LABEL].{md,json}. On a machine without an NVIDIA GPU it
// prints a skip and exits 0.
//
// Environment:
//   BENCH_CONFIGS   comma list of config ids to run (default: all, see CONFIGS)
//   BENCH_PEER_DIR  the extracted, patched peer tree (default .peer; see shared/peer/README.md)
//   BENCH_STEPS     optimizer steps per peer run (default 15; tokens/s is the median after 5)
//   BENCH_LABEL     suffix of the saved result files
//   BENCH_OUT       extra folder to copy the results into (the device tool's $OUT)
//   BENCH_SKIP_BUILD=1  our side uses the dist/bin/rwkv-train already built (else run_cli_rows.sh
//                   builds it with CMake for sm_90)
//   BENCH_PEER_MODES  comma list of the peer's modes to run: eager_gcp1,compiled_gcp0 (default both)
//   BENCH_KERNELS=0   skip the kernel checks and WKV7 timings (a short device call)
//   BENCH_KERNEL_CHECK_FILE  kernel_check output already made in this call: read, not re-run
//   BENCH_FLA_DIR   flash-linear-attention's op tree for the WKV7 table's fla columns (default .fla,
//                   built by engine/cuda/device_tests/fla_tree.py; skipped when absent)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const resultsDir = join(root, 'test/bench/results');

const CONFIGS = [
  { id: '0.1b-lora-1024x8', L: 12, D: 768, ctx: 1024, bsz: 8, peft: 'lora' },
  { id: '1.5b-lora-1024x8', L: 24, D: 2048, ctx: 1024, bsz: 8, peft: 'lora' },
  { id: '1.5b-lora-4096x1', L: 24, D: 2048, ctx: 4096, bsz: 1, peft: 'lora' },
  { id: '0.1b-full-4096x8', L: 12, D: 768, ctx: 4096, bsz: 8, peft: 'none' },
  { id: '2.9b-lora-1024x8', L: 32, D: 2560, ctx: 1024, bsz: 8, peft: 'lora' },
  { id: '1.5b-full-4096x4', L: 24, D: 2048, ctx: 4096, bsz: 4, peft: 'none' },
];
const VOCAB = 65536;

function sh(cmd, opts = {}) {
  const r = spawnSync('bash', ['-c', cmd], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  return { code: r.status ?? 1, out: (r.stdout ?? '') + (r.stderr ?? '') };
}

// ---- GPU present? -----------------------------------------------------------------------------
const smi = sh('nvidia-smi --query-gpu=name,memory.total --format=csv,noheader');
if (smi.code !== 0 || !smi.out.trim()) {
  console.log('engine bench: SKIPPED: no NVIDIA GPU here (nvidia-smi found no device). ' +
    'Run `npm run bench` on a machine with a CUDA GPU (Ampere or newer) to measure the engine ' +
    'against RWKV-PEFT.');
  process.exit(0);
}
const gpuName = smi.out.trim().split('\n')[0];
console.log(`engine bench on ${gpuName}`);
const wanted = process.env.BENCH_CONFIGS ? new Set(process.env.BENCH_CONFIGS.split(',')) : null;
const configs = CONFIGS.filter((c) => !wanted || wanted.has(c.id));
const steps = Number(process.env.BENCH_STEPS ?? 15);
const peerDir = resolve(root, process.env.BENCH_PEER_DIR ?? '.peer');
const flaDir = resolve(root, process.env.BENCH_FLA_DIR ?? '.fla');

// ---- Our kernels: CPU-twin checks, WKV7 timings, the bf16 GEMM rate ---------------------------
// BENCH_KERNEL_CHECK_FILE: kernel_check's output from earlier in the same device call (the GEMM
// rate and the WKV7 timings are read from it instead of building and running it again).
const kcFile = process.env.BENCH_KERNEL_CHECK_FILE;
const kc = kcFile && existsSync(kcFile)
  ? { code: 0, out: readFileSync(kcFile, 'utf8') }
  : process.env.BENCH_KERNELS === '0'
    ? { code: 0, out: 'SUMMARY PASS (kernel checks skipped: BENCH_KERNELS=0)' }
    : sh('engine/cuda/device_tests/run_device.sh /tmp/rwkv-bench-kc');
const gemmRates = [...kc.out.matchAll(/TIME gemm_bf16 .* tflops=([\d.]+)/g)].map((m) => Number(m[1]));
const gemmTflops = gemmRates.length ? Math.max(...gemmRates) : null;
const kernelChecks = (kc.out.match(/SUMMARY (PASS|FAIL) \((\d+) failed\)/) ?? [])[0] ?? 'kernel_check did not run';
const ourWkv = Object.fromEntries([...kc.out.matchAll(/^TIME wkv7 B=(\d+) T=(\d+) H=(\d+) forward_ms=([\d.]+) backward_ms=([\d.]+)/gm)]
  .map((m) => [`${m[1]}x${m[2]}x${m[3]}`, { fwd: Number(m[4]), bwd: Number(m[5]) }]));
// The chunked tensor-core kernels (RWKV_CUDA_WKV7_CHUNKED) timed on the same buffers.
const ourWkvChunked = Object.fromEntries([...kc.out.matchAll(/^TIME wkv7_chunked B=(\d+) T=(\d+) H=(\d+) forward_ms=([\d.]+) backward_ms=([\d.]+)/gm)]
  .map((m) => [`${m[1]}x${m[2]}x${m[3]}`, { fwd: Number(m[4]), bwd: Number(m[5]) }]));
// Each value split forced (V_SPLIT blocks a head), beside the rule's pick above: for tuning it.
const ourWkvChunkedSplit = {};
for (const m of kc.out.matchAll(/^TIME wkv7_chunked_split B=(\d+) T=(\d+) H=(\d+) vsplit=(\d+) forward_ms=([\d.]+) backward_ms=([\d.]+)/gm)) {
  const shape = `${m[1]}x${m[2]}x${m[3]}`;
  (ourWkvChunkedSplit[shape] ??= {})[m[4]] = { fwd: Number(m[5]), bwd: Number(m[6]) };
}
console.log(`kernel checks vs CPU twins: ${kernelChecks}; bf16 GEMM rate ${gemmTflops ?? 'n/a'} TFLOP/s`);

// ---- The peer's WKV7 op at the same shapes ----------------------------------------------------
let peerWkv = {};
if (existsSync(join(peerDir, 'RWKV-PEFT'))) {
  const pw = sh(`python3 engine/cuda/device_tests/peer_wkv7_time.py ${join(peerDir, 'RWKV-PEFT')}`);
  peerWkv = Object.fromEntries([...pw.out.matchAll(/PEER_TIME wkv7 B=(\d+) T=(\d+) H=(\d+) forward_ms=([\d.]+) backward_ms=([\d.]+)/g)]
    .map((m) => [`${m[1]}x${m[2]}x${m[3]}`, { fwd: Number(m[4]), bwd: Number(m[5]) }]));
  if (!Object.keys(peerWkv).length) console.log(`peer WKV7 timing failed:\n${pw.out.slice(-2000)}`);
}

// ---- flash-linear-attention's chunk_rwkv7 (Triton) at the same shapes ------------------------
// "wkv7" is the call fla's own RWKV-7 layer makes (safe_gate with RWKV-7's decay bound), the
// faster of its two modes; "wkv7_plain" the op's defaults. The first calls compile and autotune.
const parseFla = (out, name) => Object.fromEntries([...out.matchAll(new RegExp(`^FLA_TIME ${name} B=(\\d+) T=(\\d+) H=(\\d+) forward_ms=([\\d.]+) backward_ms=([\\d.]+)`, 'gm'))]
  .map((m) => [`${m[1]}x${m[2]}x${m[3]}`, { fwd: Number(m[4]), bwd: Number(m[5]) }]));
let flaWkv = {}, flaWkvPlain = {}, flaNote = null;
if (existsSync(flaDir)) {
  const fo = sh(`python3 engine/cuda/device_tests/peer_fla_time.py ${flaDir}`);
  flaWkv = parseFla(fo.out, 'wkv7');
  flaWkvPlain = parseFla(fo.out, 'wkv7_plain');
  flaNote = (fo.out.match(/^FLA_TIME unavailable: .*$/m) ?? [])[0] ?? null;
  if (!Object.keys(flaWkv).length) console.log(`fla WKV7 timing failed:\n${fo.out.slice(-2000)}`);
} else {
  flaNote = `FLA_TIME unavailable: no fla tree at ${flaDir}`;
}
if (flaNote) console.log(flaNote);

// ---- Our engine, whole training steps, through the real CLI ----------------------------------
// engine/cuda/device_tests/run_cli_rows.sh builds dist/bin/rwkv-train with the project's CMake
// (sm_90 unless CUDA_ARCH says otherwise; BENCH_SKIP_BUILD=1 uses the one already built), makes
// a random checkpoint with `rwkv-train init` and random binidx data on disk, and trains each
// bench row with the peer's flags (shared/peer/run1.sh: LoRA r64 alpha 128, grad_cp 1, AdamW
// every step) while sampling nvidia-smi: tokens/s is the median of the step events after the
// first 2, the peak is nvidia-smi's, as the peer's column.
const ours = {};
const cliDir = '/tmp/rwkv-bench-cli';
const cliRow = (c) => `bench-${c.peft === 'none' ? 'full' : c.peft}-${c.id.split('-')[0]}-${c.ctx}x${c.bsz}`;
const cli = sh(`ROWS=${configs.map(cliRow).join(',')} STEPS=${Math.max(8, steps)} ` +
  `SKIP_BUILD=${process.env.BENCH_SKIP_BUILD === '1' ? 1 : 0} engine/cuda/device_tests/run_cli_rows.sh ${cliDir}`);
let cliRows = [];
try { cliRows = JSON.parse(readFileSync(join(cliDir, 'cli_rows.json'), 'utf8')).rows ?? []; } catch { /* reported below */ }
for (const c of configs) {
  const r = cliRows.find((x) => x.name === cliRow(c));
  ours[c.id] = r && r.status?.startsWith('ok') && r.tokens_per_s
    ? { tokensPerS: Math.round(r.tokens_per_s), peakMiB: r.peak_mib, note: null }
    : { tokensPerS: null, peakMiB: null, note: r ? `our run: ${r.status}` : 'our CLI run did not report (see run_cli_rows.sh output)' };
  console.log(`ours ${c.id}: ${ours[c.id].tokensPerS ?? 'failed'} tokens/s, peak ${ours[c.id].peakMiB ?? '?'} MiB`);
}
if (!cliRows.length) console.log(cli.out.slice(-3000));

// ---- The peer, whole training steps -----------------------------------------------------------
function paramsOf(c) {  // matmul parameters per token: 4 D^2 att + 8 D^2 ffn per layer, plus the head
  return 12 * c.D * c.D * c.L + VOCAB * c.D;
}
function mfu(c, tokensPerS) {
  if (!tokensPerS || !gemmTflops) return null;
  // Model FLOPs per token: forward 2P; backward 2P for input grads, plus 2P for weight grads
  // when the base trains (full). Recomputation under grad_cp is not counted (it is overhead).
  const flopsPerToken = (c.peft === 'none' ? 6 : 4) * paramsOf(c);
  return (tokensPerS * flopsPerToken) / (gemmTflops * 1e12);
}
const peer = {};
const peerLogs = [];
if (!existsSync(join(peerDir, 'RWKV-PEFT'))) {
  console.log(`peer: not found at ${peerDir}/RWKV-PEFT (see shared/peer/README.md); peer columns empty`);
} else {
  const tree = join(peerDir, 'RWKV-PEFT');
  const env = `PYTHONPATH=${join(peerDir, 'stubs')} PYTHONUNBUFFERED=1 OUT=/tmp/rwkv-bench-peer`;
  sh('mkdir -p /tmp/data /tmp/rwkv-bench-peer');
  if (!existsSync('/tmp/data/rand.bin')) sh(`python3 ${join(peerDir, 'gen_data.py')} /tmp/data/rand 2000 4097`);
  const inits = {};
  for (const c of configs) {
    const key = `L${c.L}D${c.D}`;
    if (!inits[key]) {
      // RWKV-PEFT writes its own random init when --load_model is empty, then stops.
      sh(`cd ${tree} && ${env} bash ${join(peerDir, 'run1.sh')} init_${key} ${c.L} ${c.D} 1024 1 none 1 ""`);
      const ckpt = `/tmp/runs/init_${key}/rwkv-init.pth`;
      if (!existsSync(ckpt)) { console.log(`peer init for ${key} failed`); inits[key] = 'failed'; continue; }
      sh(`python3 ${join(peerDir, 'fix_init.py')} ${ckpt} ${c.D}`);
      inits[key] = ckpt;
    }
    if (inits[key] === 'failed') continue;
    peer[c.id] = {};
    // Both of the peer's working modes: eager with grad_cp 1 (its lean one) and compiled with
    // grad_cp 0 (its fast one); torch.compile with grad_cp 1 fails on torch 2.11.
    const wantedModes = (process.env.BENCH_PEER_MODES ?? 'eager_gcp1,compiled_gcp0').split(',');
    const modes = [['eager_gcp1', 'GRADCP=1 TORCHDYNAMO_DISABLE=1'], ['compiled_gcp0', 'GRADCP=0']]
      .filter(([mode]) => wantedModes.includes(mode));
    for (const [mode, menv] of modes) {
      const r = sh(`cd ${tree} && ${env} ${menv} bash ${join(peerDir, 'run1.sh')} ${c.id}_${mode} ${c.L} ${c.D} ${c.ctx} ${c.bsz} ${c.peft} ${steps} ${inits[key]}`);
      const m = r.out.match(/RESULT .* rc=(\d+) tokens_per_s=(\S+) peak_smi_MiB=(\S+)/);
      const tps = m && m[1] === '0' && m[2] !== 'NA' ? Number(m[2]) : null;
      peer[c.id][mode] = { tokensPerS: tps, peakMiB: m ? Number(m[3]) : null };
      peerLogs.push(r.out.trim());
      console.log(`peer ${c.id} ${mode}: ${tps ?? 'failed'} tokens/s, peak ${m ? m[3] : '?'} MiB`);
    }
  }
}

// ---- The table ----------------------------------------------------------------------------------
const fmt = (x, d = 0) => (x === null || x === undefined || Number.isNaN(x) ? 'n/a' : x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }));
const rows = [];
for (const c of configs) {
  const p = peer[c.id] ?? {};
  const e = p.eager_gcp1 ?? {}, k = p.compiled_gcp0 ?? {};
  const best = Math.max(e.tokensPerS ?? 0, k.tokensPerS ?? 0) || null;
  const o = ours[c.id];
  rows.push({
    config: c.id, ours_tokens_per_s: o.tokensPerS, ours_peak_MiB: o.peakMiB, ours_note: o.note,
    peer_eager_gcp1_tokens_per_s: e.tokensPerS ?? null, peer_eager_gcp1_peak_MiB: e.peakMiB ?? null,
    peer_compiled_gcp0_tokens_per_s: k.tokensPerS ?? null, peer_compiled_gcp0_peak_MiB: k.peakMiB ?? null,
    speed_ratio_vs_peer_best: o.tokensPerS && best ? o.tokensPerS / best : null,
    memory_ratio_vs_peer_gcp1: o.peakMiB && e.peakMiB ? o.peakMiB / e.peakMiB : null,
    ours_mfu: mfu(c, o.tokensPerS), peer_best_mfu: mfu(c, best),
  });
}
const lines = [];
lines.push(`# Engine bench: ${gpuName}`, '');
lines.push(`bf16 GEMM rate (cuBLASLt, measured this run): ${fmt(gemmTflops, 1)} TFLOP/s. Kernel checks vs CPU twins: ${kernelChecks}.`, '');
lines.push('| config | ours tok/s | ours peak MiB | peer eager gcp1 tok/s | peer gcp1 peak MiB | peer compiled gcp0 tok/s | peer gcp0 peak MiB | speed ours/peer best | memory ours/peer gcp1 | MFU ours | MFU peer best |');
lines.push('|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  lines.push(`| ${r.config} | ${fmt(r.ours_tokens_per_s)} | ${fmt(r.ours_peak_MiB)} | ${fmt(r.peer_eager_gcp1_tokens_per_s)} | ${fmt(r.peer_eager_gcp1_peak_MiB)} | ${fmt(r.peer_compiled_gcp0_tokens_per_s)} | ${fmt(r.peer_compiled_gcp0_peak_MiB)} | ${fmt(r.speed_ratio_vs_peer_best, 2)} | ${fmt(r.memory_ratio_vs_peer_gcp1, 2)} | ${r.ours_mfu === null ? 'n/a' : (100 * r.ours_mfu).toFixed(1) + '%'} | ${r.peer_best_mfu === null ? 'n/a' : (100 * r.peer_best_mfu).toFixed(1) + '%'} |`);
}
for (const r of rows) if (r.ours_note) lines.push('', `ours ${r.config}: ${r.ours_note}.`);
lines.push('', "ours: the real CLI (dist/bin/rwkv-train) with the peer's flags, grad_cp 1, the head in 1024-row chunks; peak = nvidia-smi's memory.used, as the peer's.");
const shapes = Object.keys(ourWkv);
if (shapes.length) {
  lines.push('', '## WKV7 kernel, ours vs RWKV-PEFT\'s CUDA op (same GPU, same shapes B x T x H, head 64)', '');
  lines.push('| B x T x H | ours fwd ms | ours bwd ms | ours chunked fwd ms | ours chunked bwd ms | peer fwd ms | peer bwd ms | peer/ours (fwd+bwd) | peer/ours chunked | fla fwd ms | fla bwd ms | fla/ours chunked |');
  lines.push('|---|---|---|---|---|---|---|---|---|---|---|---|');
  const ms = (x) => (x ? x.toFixed(3) : 'n/a');
  const ratio = (b, a) => (a && b ? ((b.fwd + b.bwd) / (a.fwd + a.bwd)).toFixed(2) : 'n/a');
  for (const s of shapes) {
    const a = ourWkv[s], c = ourWkvChunked[s], b = peerWkv[s], f = flaWkv[s];
    lines.push(`| ${s} | ${ms(a.fwd)} | ${ms(a.bwd)} | ${ms(c?.fwd)} | ${ms(c?.bwd)} | ${ms(b?.fwd)} | ${ms(b?.bwd)} | ${ratio(b, a)} | ${ratio(b, c)} | ${ms(f?.fwd)} | ${ms(f?.bwd)} | ${ratio(f, c)} |`);
  }
  lines.push('', "fla: flash-linear-attention's chunk_rwkv7 (Triton) as its RWKV-7 layer calls it (safe_gate, lower_bound -exp(-0.5)), median of 10 calls after 3 warm-up; ratios are (fwd+bwd) time over ours." +
    (flaNote ? ` ${flaNote}.` : ''));
}
const table = lines.join('\n');
console.log(`\n${table}\n`);

if (process.env.BENCH_SAVE === '1' || process.env.BENCH_OUT) {
  const label = process.env.BENCH_LABEL ? `_${process.env.BENCH_LABEL}` : '';
  const json = JSON.stringify({ gpu: gpuName, gemm_tflops: gemmTflops, kernel_checks: kernelChecks, steps,
    rows, wkv7_ms: { ours: ourWkv, ours_chunked: ourWkvChunked, ours_chunked_split: ourWkvChunkedSplit, peer: peerWkv,
      fla: flaWkv, fla_plain: flaWkvPlain },
    fla_note: flaNote, kernel_check_output: kc.out }, null, 2);
  const targets = [];
  if (process.env.BENCH_SAVE === '1') { mkdirSync(resultsDir, { recursive: true }); targets.push(resultsDir); }
  if (process.env.BENCH_OUT) { mkdirSync(process.env.BENCH_OUT, { recursive: true }); targets.push(process.env.BENCH_OUT); }
  for (const dir of targets) {
    writeFileSync(join(dir, `engine_bench${label}.md`), `${table}\n`);
    writeFileSync(join(dir, `engine_bench${label}.json`), `${json}\n`);
    writeFileSync(join(dir, `engine_bench${label}_peer_logs.txt`), `${peerLogs.join('\n\n')}\n`);
  }
}
// A failing kernel check is a failure of the bench; missing peer figures are reported, not fatal.
process.exit(/SUMMARY PASS/.test(kc.out) ? 0 : 1);
