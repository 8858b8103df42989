// The run manager with the real CPU engine (dist/bin/rwkv-train) on the demo model: a short run
// completes with a falling loss, a long one stops on SIGINT with a resume checkpoint, and Resume
// continues from it. Skipped, saying why, where the engine is not built.
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { demoArgv, demoMagicPrime } from '../../test/e2e/demoWorkspace.mjs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import type { EndEvent, EpochEvent, StepEvent } from '../src/runs/protocol';
import { parseProtocolText } from '../src/runs/protocolReader';
import { RunManager } from '../src/runs/runManager';
import type { RunRecord } from '../src/runs/runRecord';

const engine = resolve('dist/bin/rwkv-train');
const dir = mkdtempSync(join(tmpdir(), 'rwkv-real-engine-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function prepare(): Promise<string | undefined> {
  if (!existsSync(engine)) return 'dist/bin/rwkv-train is not built (npm run build:engine)';
  const { prepareDemo } = await import('../../test/e2e/demoWorkspace.mjs');
  cpSync('test/e2e/workspace/demo.sh', join(dir, 'demo.sh'));
  return prepareDemo(engine, dir);
}
let skip: string | undefined = 'not prepared';
before(async () => {
  skip = await prepare();
  if (skip) console.log(`SKIP real engine tests: ${skip}`);
}, { timeout: 300_000 });

const manager = () => new RunManager({ enginePath: () => engine, historyDir: join(dir, 'history'), stopTimeouts: { interruptMs: 30_000, terminateMs: 5_000 } });
function finished(m: RunManager, id: string): Promise<RunRecord> {
  return new Promise((ok) => {
    const check = () => { const r = m.get(id)!; if (!['starting', 'running', 'stopping'].includes(r.status)) { m.off('update', check); ok(r); } };
    m.on('update', check);
    check();
  });
}

test('a short CPU run on the demo model completes, loss falls, metrics.jsonl matches stdout', { timeout: 300_000 }, async (t) => {
  if (skip) { t.skip(skip); return; }
  const m = manager();
  const r = m.start({ title: 'demo.sh:9', argv: demoArgv({ projDir: 'demo/out-short', epochSteps: 20, epochCount: 2, magicPrime: demoMagicPrime(dir) }), cwd: dir, env: {} });
  const done = await finished(m, r.id);
  assert.equal(done.status, 'completed', `${done.failure?.message ?? ''} ${done.stderrTail.slice(-5).join(' | ')}`);
  assert.equal(done.garbageLines, 0, 'the engine keeps stdout for the protocol');
  const steps = m.events(r.id).filter((e): e is StepEvent => e.event === 'step');
  assert.ok(steps.length >= 40, `${steps.length} steps`);
  const mean = (xs: StepEvent[]) => xs.reduce((a, e) => a + (e.loss ?? 0), 0) / xs.length;
  assert.ok(mean(steps.slice(-5)) < mean(steps.slice(0, 5)), 'the loss falls');
  assert.ok(steps.every((e) => Number.isFinite(e.loss) && Number.isFinite(e.lr)));
  const file = parseProtocolText(readFileSync(join(dir, 'demo/out-short/metrics.jsonl'), 'utf8'));
  assert.equal(file.events.filter((e) => e.event === 'step').length, steps.length);
  // The engine speaks the protocol the dashboard reads (ARCHITECTURE.md "Contracts between parts").
  const start = done.start!;
  assert.equal(typeof start.run_id, 'string');
  assert.equal(start.device?.backend, 'cpu');
  assert.ok((start.device?.total_memory_bytes ?? 0) > 0, 'the memory chart has a device total');
  assert.ok((start.params?.trainable ?? 0) > 0 && (start.params?.total ?? 0) >= start.params!.trainable!);
  assert.equal(start.resumed_from_step, 0);
  assert.ok(steps.every((e) => (e.gpu_mem_used_bytes ?? 0) > 0 && (e.gpu_mem_reserved_bytes ?? 0) >= e.gpu_mem_used_bytes!));
  const perStep = steps[0].tokens!;
  assert.ok(steps.every((e, i) => e.tokens === perStep * (i + 1)), 'tokens are cumulative');
  const epochs = m.events(r.id).filter((e) => e.event === 'epoch') as EpochEvent[];
  assert.equal(epochs.length, 2);
  assert.ok(epochs.every((e) => e.steps === 20 && Number.isFinite(e.mean_loss)));
  const end = m.events(r.id).find((e) => e.event === 'end') as EndEvent;
  assert.equal(end.steps, steps.length);
  assert.equal(end.final_loss, steps.at(-1)!.loss);
});

test('stop (SIGINT) ends the run as stopped with a resume checkpoint; Resume continues from it', { timeout: 300_000 }, async (t) => {
  if (skip) { t.skip(skip); return; }
  const m = manager();
  const r = m.start({ title: 'demo.sh:9', argv: demoArgv({ projDir: 'demo/out-long', magicPrime: demoMagicPrime(dir) }), cwd: dir, env: {} });
  await new Promise<void>((ok) => m.on('event', (id, e) => { if (id === r.id && e.event === 'step' && (e as StepEvent).step >= 5) ok(); }));
  await m.stop(r.id);
  const stopped = m.get(r.id)!;
  assert.equal(stopped.status, 'stopped');
  assert.equal(stopped.signal, null, 'it ended on SIGINT by itself');
  const checkpoint = m.resumeCheckpoint(r.id);
  assert.ok(checkpoint && existsSync(resolve(dir, checkpoint)), `resume checkpoint ${checkpoint}`);
  const resumed = m.resume(r.id)!;
  await new Promise<void>((ok) => m.on('event', (id, e) => { if (id === resumed.id && e.event === 'step') ok(); }));
  assert.ok((m.get(resumed.id)!.start?.resumed_from_step ?? 0) >= 5);
  await m.stop(resumed.id);
});

test('the real engine\'s error event (an unknown flag) gives a failed run with its code, hint and advice', { timeout: 60_000 }, async (t) => {
  if (!existsSync(engine)) { t.skip('dist/bin/rwkv-train is not built'); return; }
  const { adviceFor } = await import('../src/runs/failureAdvice');
  const m = manager();
  const r = m.start({ title: 'bad.sh:1', argv: ['--no_such_flag', '1'], cwd: dir, env: {} });
  const done = await finished(m, r.id);
  assert.equal(done.status, 'failed');
  assert.equal(done.failure?.code, 'E_FLAG_UNKNOWN');
  assert.match(done.failure?.message ?? '', /no_such_flag/);
  assert.ok(done.failure?.hint, 'the engine gives a hint');
  assert.equal(done.garbageLines, 0);
  assert.deepEqual(adviceFor(done)!.steps, ['showOutput', 'openScript']);
});
