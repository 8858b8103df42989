// The lens's steps are the trainer's: the addon's planSchedule(argv, documents) against the
// total_steps of the start event rwkv-train prints for the same argv on the same data, for the
// newest RWKV-PEFT's one-pass epochs (jsonl with more and fewer documents than epoch_steps,
// accumulation with a partial last step) and the older form. Skipped when not built.
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
const missing = [addonFile, trainer, checkpoint].find((f) => !existsSync(f));

function startEvent(argv: string[]): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(trainer, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`no start event in 60 s: ${err.slice(-1000)}`)); }, 60000);
    child.stderr.on('data', (d) => { err += String(d); });
    child.stdout.on('data', (d) => {
      out += String(d);
      for (const line of out.split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          const ev = JSON.parse(line) as Record<string, unknown>;
          if (ev.event === 'start') { clearTimeout(timer); child.kill('SIGTERM'); resolve(ev); return; }
          if (ev.event === 'error') { clearTimeout(timer); reject(new Error(line)); return; }
        } catch { /* a partial line */ }
      }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`exited ${code} before start: ${err.slice(-1000)}`)); });
  });
}

test('planSchedule = the start event total_steps', { skip: missing ? `${missing} not built` : false, timeout: 120000 }, async () => {
  const addon = loadAddon([addonFile]);
  assert.ok(addon.planSchedule, 'the addon exports planSchedule');
  const dir = mkdtempSync(join(tmpdir(), 'lens-schedule-'));
  const data = join(dir, 'd.jsonl');
  const documents = 30;
  writeFileSync(data, Array.from({ length: documents }, (_, i) => JSON.stringify({ text: `document ${i}: some words to train on` })).join('\n') + '\n');
  const base = ['--load_model', checkpoint, '--data_file', data, '--data_type', 'jsonl', '--vocab_size', '512', '--n_layer', '2',
    '--n_embd', '128', '--ctx_len', '16', '--accelerator', 'cpu', '--peft', 'lora', '--epoch_count', '3'];
  const cases: [string, string[], number][] = [
    // newest, 25 of 30 documents, micro_bsz 4: 7 micro-batches, accumulation 2 -> 4 steps an epoch
    ['newest, trimmed', ['--peft_config', '{"r":4}', '--epoch_steps', '25', '--micro_bsz', '4', '--accumulate_grad_batches', '2'], 12],
    // newest, epoch_steps above the data's 30 documents: one pass over all 30 in 8 micro-batches
    ['newest, fewer documents', ['--peft_config', '{"r":4}', '--epoch_steps', '1000', '--micro_bsz', '4'], 24],
    // older form: epoch_steps micro-batches
    ['older', ['--lora_config', '{"lora_r":4,"lora_alpha":8}', '--epoch_steps', '10', '--micro_bsz', '2'], 30],
  ];
  for (const [name, extra, want] of cases) {
    const argv = [...base, ...extra, '--proj_dir', join(dir, name.replace(/\W+/g, '_'))];
    const plan = addon.planSchedule!(argv, documents);
    const start = await startEvent(argv);
    assert.equal(start.total_steps, want, `${name}: engine`);
    assert.equal(plan.totalSteps, want, `${name}: planSchedule`);
  }
});
