// The addon and the CLI answer from the same core code: `rwkv-train gpus` against listGpus()
// (through the fake NVML, and through whatever driver this machine has), and
// `rwkv-train inspect` against inspectCheckpoint() on files PyTorch wrote.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadAddon } from '../../server/src/facts/addonFacts';

const root = join(__dirname, '..', '..');
const addonFile = join(root, 'dist', 'bin', 'rwkv_studio.node');
const cli = join(root, 'dist', 'bin', 'rwkv-train');
const fakeNvml = join(root, 'build', 'engine', 'tests', 'libfake_nvml.so');
const missing = [addonFile, cli].find((f) => !existsSync(f));

function cliJson(args: string[], env: NodeJS.ProcessEnv = {}): unknown {
  const r = spawnSync(cli, args, { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 30000 });
  assert.equal(r.status, 0, `rwkv-train ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

interface CliGpus { gpus: { index: number; name: string; compute_capability: string; total_bytes: number; free_bytes: number }[]; driver_version: string; reason?: string }

async function sameGpus(env: NodeJS.ProcessEnv): Promise<void> {
  const fromCli = cliJson(['gpus'], env) as CliGpus;
  const saved = process.env.RWKV_NVML_LIBRARY;
  if (env.RWKV_NVML_LIBRARY) process.env.RWKV_NVML_LIBRARY = env.RWKV_NVML_LIBRARY;
  try {
    const fromAddon = await loadAddon([addonFile]).listGpus();
    assert.deepEqual(fromAddon.gpus.map((g) => ({ index: g.index, name: g.name, cc: g.computeCapability, total: g.totalBytes, driver: g.driverVersion })),
      fromCli.gpus.map((g) => ({ index: g.index, name: g.name, cc: g.compute_capability, total: g.total_bytes, driver: fromCli.driver_version })));
    assert.equal(fromAddon.reason === undefined, fromCli.reason === undefined);
  } finally {
    if (saved === undefined) delete process.env.RWKV_NVML_LIBRARY; else process.env.RWKV_NVML_LIBRARY = saved;
  }
}

test('rwkv-train gpus and listGpus agree (fake NVML: two GPUs)', { skip: missing ? `${missing} not built` : (!existsSync(fakeNvml) && 'fake NVML not built') }, async () => {
  await sameGpus({ RWKV_NVML_LIBRARY: fakeNvml });
  const two = cliJson(['gpus'], { RWKV_NVML_LIBRARY: fakeNvml }) as CliGpus;
  assert.equal(two.gpus.length, 2);
  assert.equal(two.gpus[1]!.compute_capability, '8.9');
});

test('rwkv-train gpus and listGpus agree on this machine (no driver: the same reason-bearing empty list)', { skip: missing ? `${missing} not built` : false }, async () => {
  await sameGpus({});
});

test('rwkv-train gpus rejects arguments with a clear message', { skip: missing ? `${missing} not built` : false }, () => {
  const r = spawnSync(cli, ['gpus', '--bogus'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unexpected argument "--bogus"/);
});

interface CliCheckpoint {
  model: { version: string; n_layer: number; n_embd: number | null; vocab_size: number | null; head_size: number | null };
  weights: 'full' | 'adapter';
  tensors: { name: string; shape: number[]; dtype: string }[];
}

test('rwkv-train inspect and inspectCheckpoint agree on every file PyTorch wrote', { skip: missing ? `${missing} not built` : false }, async () => {
  const dir = join(root, 'engine', 'tests', 'fixtures', 'torch');
  const addon = loadAddon([addonFile]);
  for (const file of ['x070_L2_D128_V512.pth', 'x070_lora_adapter_r8.pth', 'x060_shapes.pth', 'fp32_small.pth', 'bf16_fp16.pth', 'shared_storage.pth', 'dtypes.pth']) {
    const fromCli = cliJson(['inspect', join(dir, file)]) as CliCheckpoint;
    const fromAddon = await addon.inspectCheckpoint(join(dir, file));
    assert.deepEqual(fromAddon.tensors, fromCli.tensors, file);
    const known = (v: string) => (['x070', 'x060', 'x052'].includes(v) ? v : 'unknown');
    assert.deepEqual(
      { version: fromAddon.version, nLayer: fromAddon.nLayer, vocab: fromAddon.vocabSize, head: fromAddon.headSize },
      { version: known(fromCli.model.version), nLayer: fromCli.model.n_layer, vocab: fromCli.model.vocab_size ?? 0, head: fromCli.model.head_size ?? 0 }, file);
    if (fromCli.model.n_embd !== null) assert.equal(fromAddon.nEmbd, fromCli.model.n_embd, file);
    if (fromCli.tensors.some((t) => t.name.startsWith('blocks.'))) assert.equal(fromAddon.isAdapter, fromCli.weights === 'adapter', file);
  }
  // A file that is not a checkpoint: both refuse with the same stable code.
  const legacy = spawnSync(cli, ['inspect', join(dir, 'legacy_format.pth')], { encoding: 'utf8' });
  assert.notEqual(legacy.status, 0);
  await assert.rejects(addon.inspectCheckpoint(join(dir, 'legacy_format.pth')),
    (e: Error & { code?: string }) => legacy.stdout.includes(`"code":"${e.code}"`) || legacy.stderr.includes(String(e.code)));
});

test('rwkv-train inspect and inspectDataset agree (binidx with --ctx_len, jsonl)', { skip: missing ? `${missing} not built` : false }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'addon-cli-'));
  const jsonl = join(dir, 'chat.jsonl');
  writeFileSync(jsonl, ['{"text":"User: 你好\\n\\nAssistant: Hello! How can I help?"}', '', '{"text":"RWKV is an RNN with transformer-level performance."}'].join('\n') + '\n');
  const prefix = join(dir, 'chat');
  const made = spawnSync(cli, ['make-data', jsonl, prefix, '--ctx_len', '4', '--shuffle', '0'], { encoding: 'utf8' });
  const addon = loadAddon([addonFile]);
  const j = cliJson(['inspect', jsonl, '--ctx_len', '4']) as { tokens: number; documents: number; magic_prime: number | null; my_exit_tokens: number };
  const a = await addon.inspectDataset(jsonl, 4);
  assert.deepEqual({ tokens: a.tokens, documents: a.documents, magicPrime: a.magicPrime || null, myExitTokens: a.myExitTokens },
    { tokens: j.tokens, documents: j.documents, magicPrime: j.magic_prime, myExitTokens: j.my_exit_tokens });
  if (made.status === 0 && existsSync(`${prefix}.idx`)) {
    const b = cliJson(['inspect', prefix, '--ctx_len', '4']) as { tokens: number; documents: number; dtype: string; magic_prime: number | null };
    const ab = await addon.inspectDataset(prefix, 4);
    assert.deepEqual({ tokens: ab.tokens, documents: ab.documents, dtype: ab.dtype, magicPrime: ab.magicPrime || null },
      { tokens: b.tokens, documents: b.documents, dtype: b.dtype, magicPrime: b.magic_prime });
    assert.equal(ab.tokens, a.tokens, 'make-data wrote what inspect counted in the jsonl');
  } else {
    assert.fail(`make-data failed: ${made.stderr}`);
  }
});
