// The editor's memory estimate and the engine's `start` event show the same planned bytes for
// the same config (issue 7): the addon's planMemory(flags, 'engine') against the
// planned_memory_bytes and plan that `rwkv-train` prints when it starts a real (tiny, CPU) run
// on a checkpoint written by PyTorch. Skipped, with the reason, when the binaries are not built.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadAddon } from '../../server/src/facts/addonFacts';

const root = join(__dirname, '..', '..');
const addonFile = join(root, 'dist', 'bin', 'rwkv_studio.node');
const trainer = join(root, 'dist', 'bin', 'rwkv-train');
const checkpoint = join(root, 'engine', 'tests', 'fixtures', 'torch', 'x070_L2_D128_V512.pth');
const missing = [addonFile, trainer].find((f) => !existsSync(f));

/** A binidx pair of random uint16 tokens below `vocab` (the layout gen_data.py / make_data.py write). */
function writeBinidx(prefix: string, docs: number, docLen: number, vocab: number): void {
  const tokens = new Uint16Array(docs * docLen);
  let x = 12345;
  for (let i = 0; i < tokens.length; i++) { x = (x * 1103515245 + 12345) % 2 ** 31; tokens[i] = 1 + (x % (vocab - 1)); }
  writeFileSync(`${prefix}.bin`, tokens);
  const head = Buffer.alloc(9 + 8 + 1 + 8 + 8);
  head.write('MMIDIDX\x00\x00', 0, 'latin1');
  head.writeBigUInt64LE(1n, 9); head.writeUInt8(8, 17);
  head.writeBigUInt64LE(BigInt(docs), 18); head.writeBigUInt64LE(BigInt(docs + 1), 26);
  const sizes = new Int32Array(docs).fill(docLen);
  const pointers = BigInt64Array.from({ length: docs }, (_, i) => BigInt(i * docLen * 2));
  const docIdx = BigInt64Array.from({ length: docs + 1 }, (_, i) => BigInt(i));
  writeFileSync(`${prefix}.idx`, Buffer.concat([head, Buffer.from(sizes.buffer), Buffer.from(pointers.buffer), Buffer.from(docIdx.buffer)]));
}

/** Runs rwkv-train until its `start` event, then stops it. */
function startEvent(argv: string[]): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(trainer, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`no start event in 60 s; stderr: ${err.slice(-2000)}`)); }, 60000);
    child.stderr.on('data', (d) => { err += String(d); });
    child.stdout.on('data', (d) => {
      out += String(d);
      for (const line of out.split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          const ev = JSON.parse(line) as Record<string, unknown>;
          if (ev.event === 'start') { clearTimeout(timer); child.kill('SIGTERM'); resolve(ev); return; }
          if (ev.event === 'error') { clearTimeout(timer); reject(new Error(`engine error: ${line}`)); return; }
        } catch { /* a partial line */ }
      }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`rwkv-train exited (${code}) before start; stdout: ${out.slice(-1000)} stderr: ${err.slice(-2000)}`)); });
  });
}

test('the start event plans exactly what the editor shows for the engine', { skip: missing ? `${missing} not built` : false, timeout: 90000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'planned-'));
  writeBinidx(join(dir, 'data'), 16, 600, 512);
  const flags: Record<string, string> = {
    load_model: checkpoint, proj_dir: join(dir, 'out'), data_file: join(dir, 'data'), data_type: 'binidx',
    my_testing: 'x070', n_layer: '2', n_embd: '128', vocab_size: '512', ctx_len: '256', micro_bsz: '2',
    epoch_steps: '2', epoch_count: '1', epoch_save: '0', lr_init: '1e-4', lr_final: '1e-4', grad_cp: '1',
    peft: 'lora', peft_config: '{"r":8,"lora_alpha":16}', accelerator: 'cpu', devices: '1', precision: 'bf16',
  };
  const argv = Object.entries(flags).flatMap(([k, v]) => [`--${k}`, v]);
  let start: Record<string, unknown>;
  try {
    start = await startEvent(argv);
  } catch (e) {
    // A build of rwkv-train without its training command (the trainer not linked in yet) has
    // nothing to compare; every other failure is a failure.
    if (/E_CLI_NO_TRAINER/.test((e as Error).message)) { t.skip('rwkv-train was built without the trainer'); return; }
    throw e;
  }
  // Until engine/train/trainer.cpp reports the planner's plan (engine/addon/evidence/
  // trainer-start-plan.patch, for the trainer's owner), this shows as a failing TODO.
  if (!('plan' in start)) t.todo('the trainer does not report the planner\'s plan in its start event yet');
  const plan = loadAddon([addonFile]).planMemory(flags, 'engine');
  assert.equal(start.planned_memory_bytes, plan.totalBytes);
  assert.deepEqual(start.plan, plan.byCategory);
});
