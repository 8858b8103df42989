// The language server's Facts over the native addon (server/src/facts/addonFacts.ts): loading
// and its failure modes, the shapes facts.ts promises, and the same numbers the engine's own
// planner and NVML code give. Needs `npm run build:engine` (npm test builds first); without
// the binary the tests that need it are skipped with the reason, the loader tests still run.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { addonCandidates, createAddonFacts, loadAddon, type RwkvStudioAddon } from '../../server/src/facts/addonFacts';

const root = join(__dirname, '..', '..');
const addonFile = join(root, 'dist', 'bin', 'rwkv_studio.node');
const fakeNvml = join(root, 'build', 'engine', 'tests', 'libfake_nvml.so');
const needsAddon = existsSync(addonFile) ? false : `${addonFile} not built`;

test('the loader looks beside dist/server.js and in the repository dist/bin', () => {
  const c = addonCandidates('/opt/ext/dist', {});
  assert.deepEqual(c.slice(0, 1), ['/opt/ext/dist/bin/rwkv_studio.node']);
  assert.equal(addonCandidates('/x', { RWKV_STUDIO_ADDON: '/y/a.node' })[0], '/y/a.node');
});

test('a missing addon is one clear error naming what was tried', () => {
  assert.throws(() => loadAddon(['/nonexistent/rwkv_studio.node']), /could not be loaded; tried: \/nonexistent\/rwkv_studio.node \(missing\)/);
});

test('RWKV_STUDIO_NO_ADDON=1 turns the addon off, whatever is built', () => {
  assert.throws(() => loadAddon([addonFile], { RWKV_STUDIO_NO_ADDON: '1' }), /turned off \(RWKV_STUDIO_NO_ADDON=1\)/);
});

test('a file that is not the addon is refused, not trusted', () => {
  const dir = mkdtempSync(join(tmpdir(), 'addon-'));
  const impostor = join(dir, 'impostor.js');
  writeFileSync(impostor, 'module.exports = { hello: 1 };');
  assert.throws(() => loadAddon([impostor]), /not the RWKV Studio addon/);
  const broken = join(dir, 'broken.node');
  writeFileSync(broken, 'not an ELF file');
  assert.throws(() => loadAddon([broken]), /broken\.node \(/);
});

test('planMemory: facts.ts shape, categories sum to the total, bad flags reject', { skip: needsAddon }, async () => {
  const facts = createAddonFacts(loadAddon([addonFile]));
  const flags = { my_testing: 'x070', n_layer: 24, n_embd: 2048, ctx_len: 1024, micro_bsz: 1, grad_cp: 1,
    peft: 'lora', peft_config: '{"r":64,"lora_alpha":128}', strategy: 'deepspeed_stage_1', precision: 'bf16' };
  const plan = await facts.planMemory(flags);
  assert.equal(typeof plan.totalBytes, 'number');
  const sum = Object.values(plan.byCategory).reduce((a, b) => a + b, 0);
  assert.equal(sum, plan.totalBytes);
  for (const k of ['weights', 'optimizer', 'activations', 'logits', 'cuda_context']) assert.ok(k in plan.byCategory, k);
  // The tutorial's 1.5B LoRA row: 5.6 GB measured; the planner's own CTest holds it to ±15%.
  assert.ok(Math.abs(plan.totalBytes / 2 ** 30 - 5.6) / 5.6 <= 0.15, `${plan.totalBytes / 2 ** 30} GiB`);
  const dual = plan as typeof plan & { stack: string; other: { stack: string; totalBytes: number } };
  assert.equal(dual.stack, 'reference');
  assert.equal(dual.other.stack, 'engine');
  assert.equal(dual.other.totalBytes, loadAddon([addonFile]).planMemory(flags, 'engine').totalBytes);
  await assert.rejects(facts.planMemory({ n_layer: 0, n_embd: 2048 }), (e: Error & { code?: string }) => e.code === 'E_PLAN_FLAGS' && /n_layer/.test(e.message));
  await assert.rejects(facts.planMemory({ ...flags, peft_config: '{"r":' }), /peft_config/);
});

test('planMemory: the engine stack is the same function with the other coefficients', { skip: needsAddon }, () => {
  const addon: RwkvStudioAddon = loadAddon([addonFile]);
  const flags = { n_layer: 12, n_embd: 768, ctx_len: 4096, micro_bsz: 8, grad_cp: 1 };
  const ref = addon.planMemory(flags, 'reference');
  const ours = addon.planMemory(flags, 'engine');
  assert.equal(ref.stack, 'reference');
  assert.equal(ours.stack, 'engine');
  assert.equal(ours.totalParams, ref.totalParams);
  assert.ok(ours.totalBytes < ref.totalBytes);
  assert.throws(() => addon.planMemory(flags, 'python' as never), /unknown planner stack/);
});

test('listGpus: NVML through dlopen, fields as facts.ts names them', { skip: needsAddon || (!existsSync(fakeNvml) && 'fake NVML not built') }, async () => {
  const facts = createAddonFacts(loadAddon([addonFile]));
  const saved = process.env.RWKV_NVML_LIBRARY;
  try {
    process.env.RWKV_NVML_LIBRARY = fakeNvml;
    const { gpus, reason } = await facts.listGpus();
    assert.equal(reason, undefined);
    assert.deepEqual(gpus[0], { index: 0, name: 'NVIDIA H100 80GB HBM3', computeCapability: '9.0',
      totalBytes: 85520809984, freeBytes: 84893155328, driverVersion: '555.42.06' });
    assert.equal(gpus[1].freeBytes, 1073741824);
    process.env.RWKV_NVML_LIBRARY = '/nonexistent/libnvidia-ml.so.1';
    const none = await facts.listGpus();
    if (none.gpus.length === 0) assert.match(none.reason ?? '', /driver/);
  } finally {
    if (saved === undefined) delete process.env.RWKV_NVML_LIBRARY; else process.env.RWKV_NVML_LIBRARY = saved;
  }
});

test('inspectCheckpoint: bad input rejects with the engine error, the server keeps running', { skip: needsAddon }, async () => {
  const facts = createAddonFacts(loadAddon([addonFile]));
  const dir = mkdtempSync(join(tmpdir(), 'addon-'));
  const notZip = join(dir, 'model.pth');
  writeFileSync(notZip, 'this is not a zip archive at all');
  await assert.rejects(facts.inspectCheckpoint(notZip), (e: Error & { code?: string }) => /^E_/.test(e.code ?? '') && e.message.length > 0);
  await assert.rejects(facts.inspectCheckpoint(join(dir, 'missing.pth')), (e: Error & { code?: string }) => /^E_/.test(e.code ?? ''));
  await assert.rejects(facts.inspectDataset(join(dir, 'nothing')), (e: Error & { code?: string }) => /^E_/.test(e.code ?? ''));
});

test('inspectCheckpoint: a torch.save file reads back as torch described it', { skip: needsAddon }, async () => {
  const dir = join(root, 'engine', 'tests', 'fixtures', 'torch');
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as {
    files: Record<string, { tensors: Record<string, { dtype: string; shape: number[] }> }>;
  };
  const facts = createAddonFacts(loadAddon([addonFile]));
  const model = await facts.inspectCheckpoint(join(dir, 'x070_L2_D128_V512.pth'));
  const torchSaid = manifest.files['x070_L2_D128_V512.pth']!.tensors;
  assert.deepEqual(Object.fromEntries(model.tensors.map((t) => [t.name, { dtype: t.dtype, shape: t.shape }])),
    Object.fromEntries(Object.entries(torchSaid).map(([n, t]) => [n, { dtype: t.dtype, shape: t.shape }])));
  assert.deepEqual({ ...model, tensors: undefined },
    { tensors: undefined, version: 'x070', nLayer: 2, nEmbd: 128, vocabSize: 512, headSize: 64, isAdapter: false });
  const adapter = await facts.inspectCheckpoint(join(dir, 'x070_lora_adapter_r8.pth'));
  assert.equal(adapter.isAdapter, true);
  assert.equal((await facts.inspectCheckpoint(join(dir, 'x060_shapes.pth'))).version, 'x060');
  await assert.rejects(facts.inspectCheckpoint(join(dir, 'legacy_format.pth')), (e: Error & { code?: string }) => /^E_PTH/.test(e.code ?? ''));
});

test('inspectDataset: binidx counts and make_data.py\'s magic_prime; jsonl with the shipped vocabulary', { skip: needsAddon }, async () => {
  const facts = createAddonFacts(loadAddon([addonFile]));
  const dir = mkdtempSync(join(tmpdir(), 'addon-data-'));
  // 3 documents of 2000 uint16 tokens, in the layout make_data.py writes.
  const docs = 3, len = 2000;
  writeFileSync(join(dir, 'd.bin'), new Uint16Array(docs * len).fill(7));
  const head = Buffer.alloc(34);
  head.write('MMIDIDX\x00\x00', 0, 'latin1'); head.writeBigUInt64LE(1n, 9); head.writeUInt8(8, 17);
  head.writeBigUInt64LE(BigInt(docs), 18); head.writeBigUInt64LE(BigInt(docs + 1), 26);
  writeFileSync(join(dir, 'd.idx'), Buffer.concat([head, Buffer.from(new Int32Array(docs).fill(len).buffer),
    Buffer.from(BigInt64Array.from([0n, 4000n, 8000n]).buffer), Buffer.from(BigInt64Array.from([0n, 1n, 2n, 3n]).buffer)]));
  const d = await facts.inspectDataset(join(dir, 'd'), 512);
  // floor(6000/512) - 1 = 10: the largest prime <= 10 with p % 3 == 2 is 5.
  assert.deepEqual(d, { tokens: 6000, documents: 3, dtype: 'uint16', magicPrime: 5, myExitTokens: 6000 });
  writeFileSync(join(dir, 'c.jsonl'), '{"text":"Hello"}\n{"text":"World"}\n');
  const j = await facts.inspectDataset(join(dir, 'c.jsonl'));
  assert.equal(j.documents, 2);
  assert.ok(j.tokens >= 4 && j.tokens <= 12, String(j.tokens));
});
