// Time This Run, below VS Code: runProbe against the real engine on the CPU (a probe event back,
// no file in the script's proj_dir; a refused run comes back as the engine's error), and the
// probe cache (newest per GPU and run shape, bounded). The engine part is skipped when not built.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { MAX_PROBES, ProbeCache, type Memento } from '../src/probe/probeCache';
import { runProbe, type ProbeEvent } from '../src/probe/runProbe';

const root = join(__dirname, '..', '..');
const engine = join(root, 'dist', 'bin', 'rwkv-train');

test('runProbe: the real engine times a few steps and writes nothing', { skip: !existsSync(engine) ? 'rwkv-train not built' : false, timeout: 120000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'probe-'));
  writeFileSync(join(dir, 'd.jsonl'), Array.from({ length: 20 }, (_, i) => JSON.stringify({ text: `document ${i} with a few words` })).join('\n') + '\n');
  // jsonl is World-tokenized: the model needs its 65536-token vocabulary
  const init = spawnSync(engine, ['init', join(dir, 'base.pth'), '--n_layer', '2', '--n_embd', '64', '--vocab_size', '65536'], { encoding: 'utf8' });
  assert.equal(init.status, 0, init.stderr);
  const argv = ['--probe_steps', '4', '--load_model', 'base.pth', '--data_file', 'd.jsonl', '--data_type', 'jsonl', '--vocab_size', '65536',
    '--n_layer', '2', '--n_embd', '64', '--ctx_len', '16', '--micro_bsz', '2', '--epoch_steps', '20', '--accelerator', 'cpu',
    '--peft', 'lora', '--peft_config', '{"r":4}', '--proj_dir', 'out'];
  const log: string[] = [];
  const probe = await runProbe(engine, { argv, cwd: dir, env: {} }, (l) => log.push(l)).result;
  assert.equal(probe.event, 'probe');
  assert.ok(probe.tokens_per_s > 0 && probe.samples.length === 2 && probe.steps === 4);
  assert.equal(probe.device.name, 'CPU');
  assert.deepEqual([probe.config.n_layer, probe.config.ctx_len, probe.config.micro_bsz, probe.config.peft], [2, 16, 2, 'lora']);
  assert.ok(!existsSync(join(dir, 'out')), 'the script\'s proj_dir is not made');
  assert.ok(log.some((l) => /tokens\/s/.test(l)));
  // a run the engine refuses: its error event, with code and hint
  await assert.rejects(runProbe(engine, { argv: ['--n_layer', '2', '--bogus_flag', '1'], cwd: dir, env: {} }).result,
    (e: Error & { code?: string }) => e.code === 'E_FLAG_UNKNOWN' && /bogus_flag/.test(e.message));
});

test('the probe cache keeps the newest per GPU and run shape, and a bounded number', async () => {
  const data = new Map<string, unknown>();
  const store: Memento = { get: <T>(k: string) => data.get(k) as T | undefined, update: async (k, v) => { data.set(k, v); } };
  const cache = new ProbeCache(store);
  const p = (gpu: string, ctx: number, tps: number): ProbeEvent => ({
    event: 'probe', time: tps, tokens_per_s: tps, samples: [tps], steps: 8, device: { backend: 'cuda', name: gpu },
    config: { n_layer: 24, n_embd: 2048, ctx_len: ctx, micro_bsz: 1, accumulate_grad_batches: 1, peft: 'lora', grad_cp: 1 },
    params: { trainable: 1, total: 2 },
  });
  await cache.add(p('H100', 1024, 100));
  await cache.add(p('H100', 1024, 200));  // the same run again: replaces
  await cache.add(p('4090', 1024, 50));
  assert.deepEqual(cache.list().map((x) => [x.device.name, x.tokens_per_s]), [['4090', 50], ['H100', 200]]);
  for (let i = 0; i < MAX_PROBES + 5; i++) await cache.add(p('H100', 16 * (i + 1), i));
  assert.equal(cache.list().length, MAX_PROBES);
  data.set('rwkvStudio.probes', [{ junk: true }, p('A', 1, 1)]);
  assert.equal(cache.list().length, 1, 'malformed entries are dropped');
});
