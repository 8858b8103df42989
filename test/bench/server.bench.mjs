// Language-server latency over stdio with the real built server (node dist/server.js --stdio):
// from a full-text edit of a 200-line training script to its diagnostics, and for completion.
// Targets (issue 3): p95 <= 5 ms for diagnostics, <= 10 ms for completion.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { pathToFileURL } from 'node:url';
import { ensureBuilt, LspClient } from '../../server/test/lsp/lspClient.ts';
import { parseDocument } from '../../server/src/parse/parseDocument.ts';
import { ShellParseCache } from '../../server/src/parse/shellParseCache.ts';
import { runChecks } from '../../server/src/checks/index.ts';
import { gatherFacts } from '../../server/src/facts/gather.ts';
import { FactsCache } from '../../server/src/facts/cache.ts';
import { SERVER_NODE_ARGS } from '../../server/src/nodeArgs.ts';
import { unavailableFacts } from '../../server/src/facts/loadFacts.ts';

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 300);
const WARMUP = 30;

function script(variant) {
  const lines = ['#!/bin/bash', '# a 200-line training script: settings, comments, several runs'];
  for (let i = 0; lines.length < 150; i++) lines.push(i % 3 === 0 ? `# setting ${i}: explained here` : `setting_${i}="value_${i}"`);
  lines.push(`load_model='/data/models/rwkv7-g1-1.5b-20250429-ctx4096.pth'`, `n_layer=24`, `n_embd=2048`, `ctx_len=${1024 + variant}`, `micro_bsz=4`, `peft_config='{"r":64,"lora_alpha":128,"lora_dropout":0.05}'`);
  while (lines.length < 200) {
    lines.push(
      'CUDA_VISIBLE_DEVICES=0 python train.py --load_model $load_model \\',
      '  --proj_dir out/lora --data_file data/demo --data_type binidx --vocab_size 65536 \\',
      '  --n_layer $n_layer --n_embd $n_embd --ctx_len $ctx_len --micro_bsz $micro_bsz \\',
      '  --lr_init 2e-5 --lr_final 2e-5 --accelerator gpu --devices 1 --precision bf16 --grad_cp 1 \\',
      '  --my_testing x070 --peft lora --peft_config "$peft_config"',
    );
  }
  return lines.slice(0, 200).join('\n') + '\n';
}

function pct(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

ensureBuilt();
const ws = join(tmpdir(), `rwkv-bench-${process.pid}`);
mkdirSync(ws, { recursive: true });
const uri = pathToFileURL(join(ws, 'bench.sh')).href;
writeFileSync(join(ws, 'bench.sh'), script(0));
// BENCH_SERVER_PROFILE=dir writes a CPU profile of the server process there
// The server starts with the Node flags the extension gives it (server/src/nodeArgs.ts).
const client = new LspClient(undefined, [...SERVER_NODE_ARGS, ...(process.env.BENCH_SERVER_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_SERVER_PROFILE}`] : [])]);
await client.initialize('en');
let version = 1;
let ready = client.diagnostics(uri, version);
await client.open(uri, 'shellscript', script(0), version);
await ready;

const diag = [];
for (let i = 0; i < WARMUP + ITERATIONS; i++) {
  version++;
  const text = script(i % 2 ? 512 : 0);
  ready = client.diagnostics(uri, version);
  const t0 = performance.now();
  await client.change(uri, version, text);
  await ready;
  if (i >= WARMUP) diag.push(performance.now() - t0);
}

const comp = [];
const lines = script(0).split('\n');
const line = lines.findIndex((l) => l.includes('--lr_init'));
for (let i = 0; i < WARMUP + ITERATIONS; i++) {
  const t0 = performance.now();
  const r = await client.request('textDocument/completion', { textDocument: { uri }, position: { line, character: 4 } });
  if (i >= WARMUP) comp.push(performance.now() - t0);
  if (!r || (Array.isArray(r) ? r : r.items).length === 0) throw new Error('empty completion');
}
await client.close();

// The same work in-process, as CPU time (process.cpuUsage): what one edit costs the server
// (run through tsx, so a little slower than the esbuild bundle),
// independent of how busy the machine is (the stdio figures above are wall time).
// Like the server (lsp/analysis.ts), one ShellParseCache per document parses from the edit on.
const cache = new FactsCache(unavailableFacts());
const shellCache = new ShellParseCache();
const cpu = [];
for (let i = 0; i < WARMUP + ITERATIONS; i++) {
  const text = script(i % 2 ? 512 : 0);
  const c0 = process.cpuUsage();
  const config = parseDocument(text, 'shell', 'bench.sh', shellCache);
  const snapshot = await gatherFacts(config, { cwd: ws, ...cache.view(true) });
  runChecks(config, snapshot);
  const d = process.cpuUsage(c0);
  if (i >= WARMUP) cpu.push((d.user + d.system) / 1000);
}

const row = (name, xs, target) => `| ${name} | ${pct(xs, 50).toFixed(2)} | ${pct(xs, 95).toFixed(2)} | ${target} | ${pct(xs, 95) <= target ? 'met' : 'MISSED'} |`;
console.log(`server latency over stdio, ${ITERATIONS} samples each (node ${process.version})`);
console.log('| measure | p50 ms | p95 ms | target p95 ms | |');
console.log('|---|---|---|---|---|');
console.log(row('edit -> diagnostics (200-line script)', diag, 5));
console.log(row('completion (flag names)', comp, 10));
console.log(`| in-process parse + facts + checks, CPU ms | ${pct(cpu, 50).toFixed(2)} | ${pct(cpu, 95).toFixed(2)} | | |`);
const [l1] = (await import('node:os')).loadavg();
console.log(`load average during the run: ${l1.toFixed(2)} on ${(await import('node:os')).cpus().length} cores (wall-time figures grow with it)`);
if (process.env.BENCH_VERBOSE) console.log('diagnostics p75/p90/p99:', [75, 90, 99].map((p) => pct(diag, p).toFixed(2)).join(' / '));
