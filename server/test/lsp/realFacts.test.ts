// With the real engine addon (built into dist/bin by `npm run build`, loaded through
// addonFacts.ts): checkpoint shapes, dataset tokens and the memory plan reach diagnostics and
// hover end to end. Skipped when the addon, its loader or the engine's fixture checkpoint is absent.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import type { Hover } from 'vscode-languageserver-protocol';
import { ensureBuilt, LspClient, ROOT } from './lspClient';

const ADDON = join(ROOT, 'dist/bin/rwkv_studio.node');
const CLI = join(ROOT, 'dist/bin/rwkv-train');
const LOADER = join(ROOT, 'server/src/facts/addonFacts.ts');
const CHECKPOINT = join(ROOT, 'engine/tests/fixtures/torch/x070_L2_D128_V512.pth');

test('real facts from the engine addon: checkpoint, dataset, memory plan', async (t) => {
  const missing = [ADDON, CLI, LOADER, CHECKPOINT].filter((p) => !existsSync(p));
  if (missing.length) { t.skip(`not built here: ${missing.join(', ')}`); return; }
  ensureBuilt();
  const ws = mkdtempSync(join(tmpdir(), 'rwkv-real-'));
  try {
    writeFileSync(join(ws, 'train.py'), '');
    mkdirSync(join(ws, 'models'));
    mkdirSync(join(ws, 'data'));
    copyFileSync(CHECKPOINT, join(ws, 'models', 'tiny.pth'));
    writeFileSync(join(ws, 'data', 'in.jsonl'), Array.from({ length: 200 }, (_, i) => JSON.stringify({ text: `Sample ${i}: the quick brown fox jumps over the lazy dog.` })).join('\n') + '\n');
    const made = spawnSync(CLI, ['make-data', join(ws, 'data', 'in.jsonl'), join(ws, 'data', 'demo'), '--ctx_len', '16'], { encoding: 'utf8' });
    assert.equal(made.status, 0, made.stderr);
    const env = { ...process.env };
    delete env.RWKV_STUDIO_NO_ADDON;
    const client = new LspClient(env);
    await client.initialize('en', pathToFileURL(ws).href);
    const uri = pathToFileURL(join(ws, 'run.sh')).href;
    await client.open(uri, 'shellscript', [
      'n_layer=24',
      'python train.py --load_model models/tiny.pth --n_layer $n_layer --n_embd 128 --my_testing x060 --vocab_size 512 \\',
      '  --data_file data/demo --data_type binidx --ctx_len 16 --magic_prime 7 --my_exit_tokens 1 --micro_bsz 1 --peft lora',
      '',
    ].join('\n'));
    const { diagnostics } = await client.diagnosticsWhere(uri, (p) => p.diagnostics.some((d) => d.code === 'RWKV020'), 10000);
    const codes = diagnostics.map((d) => d.code).sort();
    assert.ok(codes.includes('RWKV007'), 'n_layer against the real checkpoint (2 layers)');
    assert.ok(codes.includes('RWKV009'), 'my_testing against the real checkpoint (x070)');
    assert.ok(codes.includes('RWKV019') && codes.includes('RWKV020'), 'magic_prime and my_exit_tokens against the real dataset');
    assert.ok(!codes.includes('RWKV022'), 'facts are available');
    const hover = await client.request<Hover>('textDocument/hover', { textDocument: { uri }, position: { line: 1, character: 20 } });
    assert.match(JSON.stringify(hover.contents), /Checkpoint: x070, 2 layers × 128, vocab 512/);
    const plan = await client.request<Hover>('textDocument/hover', { textDocument: { uri }, position: { line: 1, character: 2 } });
    assert.match(JSON.stringify(plan.contents), /Estimated GPU memory: \d+\.\d\d GB/);
    assert.equal(await client.close(), 0);
  } finally {
    rmSync(ws, { recursive: true, force: true });
  }
});
