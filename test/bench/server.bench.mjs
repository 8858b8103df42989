// Language-server latency over stdio with the real built server (node dist/server.js --stdio):
// from a full-text edit of a 200-line training script to its diagnostics, and for completion.
// Targets (issue 3): p95 <= 5 ms for diagnostics, <= 10 ms for completion.
// Then (issue 16) the same server on a real 200-line tutorial-shaped script with four train.py
// calls (fixtures/tutorial-four-runs.sh), typed into: p50/p95/p99 from each keystroke's
// didChange to its publishDiagnostics, against p95 <= 5 ms and p99 <= 10 ms, and the cold open.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ensureBuilt, LspClient } from '../../server/test/lsp/lspClient.ts';
import { parseDocument } from '../../server/src/parse/parseDocument.ts';
import { ShellParseCache } from '../../server/src/parse/shellParseCache.ts';
import { runChecks } from '../../server/src/checks/index.ts';
import { gatherFacts } from '../../server/src/facts/gather.ts';
import { FactsCache } from '../../server/src/facts/cache.ts';
import { SERVER_NODE_ARGS } from '../../server/src/nodeArgs.ts';
import { unavailableFacts } from '../../server/src/facts/loadFacts.ts';
import { toDiagnostic } from '../../server/src/lsp/convert.ts';
import { TextDocument } from 'vscode-languageserver-textdocument';

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

// Typing into the tutorial script: a character typed and then deleted (two incremental didChange
// notifications, as an editor sends keystrokes) at places spread over the file, top to bottom, so
// that edits near the top (the most the incremental parse must redo) weigh as much as the rest.
// Each place leaves a state a person passes through: a longer number, a half-typed flag, a JSON
// value, a comment.
const TUTORIAL = readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'fixtures/tutorial-four-runs.sh'), 'utf8');
const KEYSTROKES = [
  { anchor: '# 在 RWKV-PEFT 目录下运行', typed: '。' }, // the header comment
  { anchor: 'n_layer=24', typed: '0' },
  { anchor: 'ctx_len=512', typed: '0' },
  { anchor: '"lora_dropout":0.05', typed: '5' }, // inside the LoRA call's peft_config JSON
  { after: '== MiSS', anchor: '--micro_bsz', typed: 'x' }, // an unknown flag for one keystroke
  { anchor: '--lr_init $pissa_lr_init', typed: '0' },
  { anchor: '--peft state', typed: 'x' }, // an unknown method for one keystroke
  { anchor: '# 4. loss 不下降时', typed: '!' }, // the notes at the end
].map(({ after, anchor, typed }) => {
  const at = TUTORIAL.indexOf(anchor, after ? TUTORIAL.indexOf(after) : 0);
  if (at < 0) throw new Error(`anchor not in the tutorial script: ${anchor}`);
  // LSP positions count UTF-16 code units, as String.length does
  const before = TUTORIAL.slice(0, at + anchor.length).split('\n');
  return { position: { line: before.length - 1, character: before[before.length - 1].length }, typed };
});
const tutorial = new LspClient(undefined, SERVER_NODE_ARGS);
await tutorial.initialize('en');
const tutorialUri = pathToFileURL(join(ws, 'compare.sh')).href;
writeFileSync(join(ws, 'compare.sh'), TUTORIAL);
let tv = 1;
const coldReady = tutorial.diagnostics(tutorialUri, tv);
const c0 = performance.now();
await tutorial.open(tutorialUri, 'shellscript', TUTORIAL, tv);
const first = await coldReady;
const cold = performance.now() - c0;
if (first.diagnostics.some((d) => d.severity === 1)) throw new Error(`the tutorial script should have no errors: ${JSON.stringify(first.diagnostics)}`);
/** Keystroke i: the even ones type a place's character, the odd ones delete it again. */
function keystroke(i) {
  const { position, typed } = KEYSTROKES[Math.floor(i / 2) % KEYSTROKES.length];
  return i % 2 === 0
    ? { range: { start: position, end: position }, text: typed }
    : { range: { start: position, end: { line: position.line, character: position.character + typed.length } }, text: '' };
}
const typing = [];
for (let i = 0; i < WARMUP + ITERATIONS; i++) {
  const { range, text } = keystroke(i);
  tv++;
  const got = tutorial.diagnostics(tutorialUri, tv);
  const t0 = performance.now();
  await tutorial.edit(tutorialUri, tv, range, text);
  await got;
  if (i >= WARMUP) typing.push(performance.now() - t0);
}
await tutorial.close();

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

// The keystrokes into the tutorial script in-process, as CPU time: what the server does per
// didChange (the document update, the parse from the edit on, cached facts, checks, diagnostics
// as JSON), so that a figure over the target can be told apart from a busy machine.
const tutorialDoc = TextDocument.create(tutorialUri, 'shellscript', 1, TUTORIAL);
const tutorialCache = new ShellParseCache();
const typingCpu = [];
for (let i = 0; i < WARMUP + ITERATIONS; i++) {
  const { range, text } = keystroke(i);
  const c0 = process.cpuUsage();
  TextDocument.update(tutorialDoc, [{ range, text }], tutorialDoc.version + 1);
  const config = parseDocument(tutorialDoc.getText(), 'shell', tutorialUri, tutorialCache);
  const snapshot = await gatherFacts(config, { cwd: ws, ...cache.view(true) });
  JSON.stringify(runChecks(config, snapshot).map((f) => toDiagnostic(tutorialDoc, f)));
  const d = process.cpuUsage(c0);
  if (i >= WARMUP) typingCpu.push((d.user + d.system) / 1000);
}
if (tutorialDoc.getText() !== TUTORIAL) throw new Error('the keystrokes should leave the script as it was');

const row = (name, xs, target95, target99) => {
  const [p50, p95, p99] = [50, 95, 99].map((p) => pct(xs, p));
  const met = (target95 === undefined || p95 <= target95) && (target99 === undefined || p99 <= target99);
  const targets = [target95 === undefined ? '' : `p95 ${target95}`, target99 === undefined ? '' : `p99 ${target99}`].filter(Boolean).join(', ');
  return `| ${name} | ${p50.toFixed(2)} | ${p95.toFixed(2)} | ${p99.toFixed(2)} | ${targets} | ${targets ? (met ? 'met' : 'MISSED') : ''} |`;
};
console.log(`server latency over stdio, ${ITERATIONS} samples each (node ${process.version})`);
console.log('| measure | p50 ms | p95 ms | p99 ms | target ms | |');
console.log('|---|---|---|---|---|---|');
console.log(row('edit -> diagnostics (200-line script, full-text edits)', diag, 5));
console.log(row('keystroke -> diagnostics (200-line tutorial script, 4 train.py calls)', typing, 5, 10));
console.log(`| cold: open -> first diagnostics (tutorial script) | ${cold.toFixed(2)} | | | | |`);
console.log(row('completion (flag names)', comp, 10));
console.log(row('in-process parse + facts + checks, CPU ms (200-line script)', cpu));
console.log(row('in-process keystroke, CPU ms (tutorial script)', typingCpu));
const [l1] = (await import('node:os')).loadavg();
console.log(`load average during the run: ${l1.toFixed(2)} on ${(await import('node:os')).cpus().length} cores (wall-time figures grow with it)`);
if (process.env.BENCH_VERBOSE) console.log('diagnostics p75/p90/p99:', [75, 90, 99].map((p) => pct(diag, p).toFixed(2)).join(' / '));
