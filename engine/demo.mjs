// `npm run demo`: trains a tiny RWKV-7 on this machine's CPU in about two minutes, with the
// real engine and its real file formats, so anyone can watch a loss fall without a GPU.
//   1. generates a small byte-level text corpus (simple sentences and sums) as binidx,
//   2. `rwkv-train init`: a random x070 model (L2, D128, vocab 256), initialised as RWKV-LM does,
//   3. `rwkv-train inspect`: the corpus's magic_prime for the context length,
//   4. trains it (RWKV-LM pretraining flags, magic_prime sampling) with the progress bar on
//      stderr, reading the run protocol from stdout, and reports the loss before and after.
// Byte-level tokens keep the head small (256 rows instead of the World vocabulary's 65,536), so
// a 2-core machine sees the model learn within the time budget.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const engine = join('dist', 'bin', process.platform === 'win32' ? 'rwkv-train.exe' : 'rwkv-train');
if (!existsSync(engine)) {
  console.error(`demo: ${engine} is missing; run \`npm run build\` first (npm run demo does).`);
  process.exit(1);
}
const work = join(tmpdir(), `rwkv-studio-demo-${process.pid}`);
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });

// A deterministic generator (mulberry32), so every run sees the same corpus.
function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = rng(2024);
const pick = (xs) => xs[Math.floor(rand() * xs.length)];
const names = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'];
const things = ['apples', 'pears', 'books', 'cats', 'stones', 'coins'];
function line() {
  const a = Math.floor(rand() * 10), b = Math.floor(rand() * 10);
  return rand() < 0.5 ? `${pick(names)} has ${a} ${pick(things)}.\n` : `${a} + ${b} = ${a + b}.\n`;
}
const documents = [];
for (let d = 0; d < 400; d++) {
  let text = '';
  while (text.length < 200) text += line();
  documents.push(Buffer.from(text, 'latin1'));
}

// binidx (Megatron MMIDIDX, uint16 tokens; a token is a byte here).
function writeBinidx(prefix, docs) {
  const total = docs.reduce((n, d) => n + d.length, 0);
  const bin = Buffer.alloc(total * 2);
  let off = 0;
  for (const d of docs) for (const byte of d) { bin.writeUInt16LE(byte, off); off += 2; }
  const n = docs.length;
  const idx = Buffer.alloc(9 + 8 + 1 + 8 + 8 + 4 * n + 8 * n + 8 * (n + 1));
  let p = 0;
  idx.write('MMIDIDX\x00\x00', p, 'latin1'); p += 9;
  idx.writeBigUInt64LE(1n, p); p += 8;
  idx.writeUInt8(8, p); p += 1;                      // dtype code 8 = uint16
  idx.writeBigUInt64LE(BigInt(n), p); p += 8;
  idx.writeBigUInt64LE(BigInt(n + 1), p); p += 8;
  for (const d of docs) { idx.writeInt32LE(d.length, p); p += 4; }
  let ptr = 0n;
  for (const d of docs) { idx.writeBigInt64LE(ptr, p); p += 8; ptr += BigInt(d.length * 2); }
  for (let i = 0; i <= n; i++) { idx.writeBigInt64LE(BigInt(i), p); p += 8; }
  writeFileSync(`${prefix}.bin`, bin);
  writeFileSync(`${prefix}.idx`, idx);
}
const data = join(work, 'corpus');
writeBinidx(data, documents);

function runJson(args) {
  const r = spawnSync(engine, args, { encoding: 'utf8' });
  if (r.status !== 0) {
    process.stderr.write(r.stdout + r.stderr);
    console.error(`demo: rwkv-train ${args[0]} failed`);
    process.exit(1);
  }
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

const ctxLen = 64;
const model = join(work, 'rwkv-init-L2-D128.pth');
const init = runJson(['init', model, '--n_layer', '2', '--n_embd', '128', '--vocab_size', '256', '--seed', '1', '--dtype', 'fp32']);
const facts = runJson(['inspect', data, '--ctx_len', String(ctxLen)]);
console.error(`demo: corpus ${facts.tokens} byte tokens in ${facts.documents} documents; model ${init.params.toLocaleString()} parameters (L2 D128)`);

const steps = 20, epochs = 6;  // 120 steps of 8 x 64 tokens
const args = [
  '--load_model', model, '--proj_dir', join(work, 'out'), '--data_file', data, '--data_type', 'binidx',
  '--vocab_size', '256', '--n_layer', '2', '--n_embd', '128', '--ctx_len', String(ctxLen),
  '--micro_bsz', '8', '--epoch_steps', String(steps), '--epoch_count', String(epochs), '--epoch_save', '3',
  '--lr_init', '3e-3', '--lr_final', '3e-4', '--warmup_steps', '10', '--weight_decay', '0.001',
  '--magic_prime', String(facts.magic_prime), '--my_testing', 'x070', '--accelerator', 'cpu',
  '--precision', 'fp32', '--strategy', 'deepspeed_stage_2', '--grad_cp', '0', '--random_seed', '1',
];
console.error(`demo: rwkv-train ${args.join(' ')}\n`);
// Threads wait passively: on a busy 2-core machine, spinning OpenMP threads fight each other.
const env = { ...process.env, OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY ?? 'passive',
  OMP_NUM_THREADS: process.env.OMP_NUM_THREADS ?? String(Math.min(2, availableParallelism())) };
const child = spawn(engine, args, { stdio: ['ignore', 'pipe', 'inherit'], env });
const losses = [];
let endStatus = 'unknown';
let error = null;
createInterface({ input: child.stdout }).on('line', (text) => {
  let ev;
  try { ev = JSON.parse(text); } catch { return; }
  if (ev.event === 'step') losses.push(ev.loss);
  else if (ev.event === 'end') endStatus = ev.status;
  else if (ev.event === 'error') error = ev;
});
const stop = () => child.kill('SIGTERM');
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
child.on('close', (code) => {
  if (error) console.error(`\ndemo: engine error ${error.code}: ${error.message}\n  hint: ${error.hint}`);
  if (losses.length === 0) { console.error('demo: no training step finished'); process.exit(code || 1); }
  const tail = losses.slice(-10);
  const first = losses[0], last = tail.reduce((a, b) => a + b, 0) / tail.length;
  console.error(`\ndemo: ${endStatus} after ${losses.length} steps; loss ${first.toFixed(3)} at step 1 -> ${last.toFixed(3)} ` +
    `(mean of the last 10 steps), ${(100 * (1 - last / first)).toFixed(0)}% lower; ` +
    `uniform guessing over 256 bytes is ${Math.log(256).toFixed(3)}`);
  console.error(`demo: checkpoints and metrics.jsonl in ${join(work, 'out')}`);
  process.exit(code ?? 1);
});
