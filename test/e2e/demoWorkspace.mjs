// Makes the demo model and data that test/e2e/workspace/demo.sh trains, with the real engine:
// a byte-level corpus of short sentences and sums (a tiny model visibly learns it) written as
// binidx, random x070 weights from `rwkv-train init` (L2 D128, vocab 256, as `npm run demo`),
// and the corpus's magic_prime from `rwkv-train inspect` written into the script.
// Returns undefined when done, else why not (the caller fails or prints SKIP).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Documents of latin1 bytes, deterministic. */
export function demoDocuments(count = 400) {
  let seed = 7;
  const next = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
  const names = ['ann', 'ben', 'cleo', 'dan'], things = ['pens', 'cups', 'maps', 'keys'];
  const docs = [];
  for (let d = 0; d < count; d++) {
    let text = '';
    while (text.length < 200) {
      const a = next(10), b = next(10);
      text += next(2) ? `${names[next(4)]} has ${a} ${things[next(4)]}.\n` : `${a} + ${b} = ${a + b}.\n`;
    }
    docs.push(Buffer.from(text, 'latin1'));
  }
  return docs;
}

/** Megatron's MMIDIDX binidx with uint16 tokens (one token per byte here). */
export function writeBinidx(prefix, docs) {
  const tokens = docs.reduce((n, d) => n + d.length, 0);
  const bin = Buffer.alloc(tokens * 2);
  let at = 0;
  for (const d of docs) for (const byte of d) at = bin.writeUInt16LE(byte, at);
  const n = docs.length;
  const header = Buffer.alloc(9 + 8 + 1 + 8 + 8);
  header.write('MMIDIDX\0\0', 0, 'latin1');
  header.writeBigUInt64LE(1n, 9);           // version
  header.writeUInt8(8, 17);                 // dtype code 8: uint16
  header.writeBigUInt64LE(BigInt(n), 18);   // number of sequences
  header.writeBigUInt64LE(BigInt(n + 1), 26); // number of document boundaries
  const sizes = Buffer.alloc(4 * n), pointers = Buffer.alloc(8 * n), docIdx = Buffer.alloc(8 * (n + 1));
  let offset = 0n;
  docs.forEach((d, i) => { sizes.writeInt32LE(d.length, 4 * i); pointers.writeBigInt64LE(offset, 8 * i); offset += BigInt(d.length * 2); });
  for (let i = 0; i <= n; i++) docIdx.writeBigInt64LE(BigInt(i), 8 * i);
  writeFileSync(`${prefix}.bin`, bin);
  writeFileSync(`${prefix}.idx`, Buffer.concat([header, sizes, pointers, docIdx]));
}

export function prepareDemo(engine, workspace) {
  const demo = join(workspace, 'demo');
  mkdirSync(demo, { recursive: true });
  const run = (args) => spawnSync(engine, args, { cwd: workspace, encoding: 'utf8', timeout: 180_000 });
  writeBinidx(join(demo, 'data'), demoDocuments());
  const init = run(['init', 'demo/model.pth', '--n_layer', '2', '--n_embd', '128', '--vocab_size', '256', '--seed', '1', '--dtype', 'fp32']);
  if (init.status !== 0 || !existsSync(join(demo, 'model.pth'))) return `rwkv-train init failed (exit ${init.status}): ${(init.stderr || init.stdout || '').slice(-300)}`;
  const inspect = run(['inspect', 'demo/data', '--ctx_len', '64']);
  let magicPrime;
  try { magicPrime = JSON.parse(inspect.stdout.trim().split('\n').pop()).magic_prime; } catch { /* reported below */ }
  if (inspect.status !== 0 || !magicPrime) return `rwkv-train inspect gave no magic_prime (exit ${inspect.status}): ${(inspect.stderr || inspect.stdout || '').slice(-300)}`;
  const script = join(workspace, 'demo.sh');
  if (existsSync(script)) writeFileSync(script, readFileSync(script, 'utf8').replace(/^magic_prime=\d+$/m, `magic_prime=${magicPrime}`));
  return undefined;
}

/** The flags of demo.sh as the server resolves them (for tests that run the engine directly). */
export function demoArgv({ projDir = 'demo/out', epochSteps = 1000, epochCount = 100, magicPrime }) {
  return ['--load_model', 'demo/model.pth', '--proj_dir', projDir, '--data_file', 'demo/data', '--data_type', 'binidx',
    '--vocab_size', '256', '--n_layer', '2', '--n_embd', '128', '--ctx_len', '64', '--micro_bsz', '8',
    '--epoch_steps', String(epochSteps), '--epoch_count', String(epochCount), '--epoch_save', '1',
    '--lr_init', '3e-3', '--lr_final', '3e-4', '--warmup_steps', '10', '--magic_prime', String(magicPrime),
    '--my_testing', 'x070', '--accelerator', 'cpu', '--precision', 'fp32', '--strategy', 'deepspeed_stage_2', '--grad_cp', '0'];
}

export function demoMagicPrime(workspace) {
  return Number(/^magic_prime=(\d+)$/m.exec(readFileSync(join(workspace, 'demo.sh'), 'utf8'))?.[1]);
}

/** Whether this engine build trains (one step of the demo); else why not. */
export function probeTraining(engine, workspace) {
  const argv = demoArgv({ projDir: 'demo/probe', epochSteps: 1, epochCount: 1, magicPrime: demoMagicPrime(workspace) });
  const r = spawnSync(engine, argv, { cwd: workspace, encoding: 'utf8', timeout: 120_000 });
  if (r.status === 0) return undefined;
  const error = r.stdout.split('\n').map((l) => { try { return JSON.parse(l); } catch { return undefined; } }).find((e) => e?.event === 'error');
  return `one demo step failed (exit ${r.status}${error ? `, ${error.code}: ${error.message}` : ''})`;
}
