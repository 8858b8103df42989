// textDocument/codeLens end to end with the real engine addon: above each train.py call the
// lens shows the engine planner's memory against the GPU (here the rwkvStudio.targetGpu value
// the client passes, as this machine has none), the time from the H100 model, and the steps the
// trainer runs: the newest RWKV-PEFT's one-pass epochs for --peft_config, epoch_steps for the
// older form. An unmeasured GPU gets no time until a probe. Skipped when the addon is not built.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import type { CodeLens } from 'vscode-languageserver-protocol';
import { ensureBuilt, LspClient, ROOT } from './lspClient';

const ADDON = join(ROOT, 'dist/bin/rwkv_studio.node');
const CHECKPOINT = join(ROOT, 'engine/tests/fixtures/torch/x070_L2_D128_V512.pth');

test('the lens: memory of the GPU, time, steps as each trainer runs them', async (t) => {
  const missing = [ADDON, CHECKPOINT].filter((p) => !existsSync(p));
  if (missing.length) { t.skip(`not built here: ${missing.join(', ')}`); return; }
  ensureBuilt();
  const ws = mkdtempSync(join(tmpdir(), 'rwkv-lens-'));
  try {
    writeFileSync(join(ws, 'train.py'), '');
    mkdirSync(join(ws, 'data'));
    copyFileSync(CHECKPOINT, join(ws, 'tiny.pth'));
    // 30 documents; epoch_steps 25 keeps 25 of them in the newest RWKV-PEFT
    writeFileSync(join(ws, 'data', 'd.jsonl'), Array.from({ length: 30 }, (_, i) => JSON.stringify({ text: `line ${i} of the data` })).join('\n') + '\n');
    const env = { ...process.env };
    delete env.RWKV_STUDIO_NO_ADDON;
    const client = new LspClient(env);
    await client.initialize('en', pathToFileURL(ws).href, { estimate: { targetGpu: { name: 'NVIDIA H100 80GB HBM3', totalBytes: 85520809984 }, probes: [] } });
    const uri = pathToFileURL(join(ws, 'run.sh')).href;
    const common = '--load_model tiny.pth --n_layer 2 --n_embd 128 --vocab_size 512 --data_file data/d.jsonl --data_type jsonl --ctx_len 16 --micro_bsz 4 --epoch_steps 25 --epoch_count 3 --grad_cp 1 --peft lora';
    await client.open(uri, 'shellscript', [
      `python train.py ${common} --peft_config '{"r":8}'`,
      `python train.py ${common} --lora_config '{"lora_r":8}'`,
      '',
    ].join('\n'));
    const all = await client.request<CodeLens[]>('textDocument/codeLens', { textDocument: { uri } });
    const lenses = all.filter((l) => l.command?.command === 'rwkvStudio.probeThroughput');
    assert.equal(lenses.length, 2, JSON.stringify(all));
    const [newest, older] = lenses.sort((a, b) => a.range.start.line - b.range.start.line);
    // above each data_file: the preview, with how that call reads the data
    const previews = all.filter((l) => l.command?.command === 'rwkvStudio.previewDataset');
    assert.equal(previews.length, 2);
    assert.deepEqual(previews[0].command!.arguments, [{ path: join(ws, 'data', 'd.jsonl'), options: { dataType: 'jsonl', ctxLen: 16, lossMask: 'none' } }]);
    // and the preview itself, through the real addon
    const shown = await client.request<{ ok?: { documents: number; samples: { roundTrip: boolean }[] }; error?: string }>('rwkv/previewDataset', previews[0].command!.arguments![0]);
    assert.equal(shown.ok?.documents, 30, JSON.stringify(shown).slice(0, 300));
    assert.ok(shown.ok!.samples.length === 8 && shown.ok!.samples.every((d) => d.roundTrip));
    const missingData = await client.request<{ error?: string }>('rwkv/previewDataset', { path: join(ws, 'nope.jsonl'), options: {} });
    assert.ok(missingData.error && /nope\.jsonl/.test(missingData.error), JSON.stringify(missingData));
    console.log(newest.command!.title, '\n', older.command!.title);
    // newest: ceil(25 / 4) = 7 micro-batches an epoch (the last of 1 row) × 3 epochs
    assert.match(newest.command!.title, /^≈ \d+\.\d of 85\.5 GB · (≈ \d.*|< 1 min) · 21 steps × 64 tokens$/);
    // older: epoch_steps 25 micro-batches × 3 epochs
    assert.match(older.command!.title, / · 75 steps × 64 tokens$/);
    assert.equal(newest.command!.command, 'rwkvStudio.probeThroughput');
    assert.deepEqual(newest.command!.arguments, [uri, 0]);
    const tip = (newest.command as { tooltip?: string }).tooltip ?? '';
    assert.match(tip, /one shuffled pass over 25 documents .* 7 micro-batches of 4, the last of 1/);
    assert.match(tip, /H100 model fitted to \d+ runs/);
    assert.match(tip, /RWKV-PEFT\/RWKV-LM on PyTorch: ≈ [\d.]+ GB/);
    // an unmeasured GPU: no time until the run is probed there
    await client.conn.sendNotification('rwkv/estimateContext', { targetGpu: { name: 'NVIDIA GeForce RTX 4090', totalBytes: 25757220864 }, probes: [] });
    const after = await client.request<CodeLens[]>('textDocument/codeLens', { textDocument: { uri } });
    assert.match(after[0].command!.title, /of 25\.8 GB · time: probe · /);
    await client.close();
  } finally {
    rmSync(ws, { recursive: true, force: true });
  }
});
