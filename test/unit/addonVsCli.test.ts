// The addon and the CLI answer from the same core code: `rwkv-train gpus` against listGpus()
// (through the fake NVML, and through whatever driver this machine has), and
// `rwkv-train inspect` against inspectCheckpoint() on files PyTorch wrote.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
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
