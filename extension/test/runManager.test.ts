// The run manager against a fake engine (test/fake-engine) that misbehaves on purpose.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { adviceFor } from '../src/runs/failureAdvice';
import type { StepEvent } from '../src/runs/protocol';
import { RunManager, withFlag } from '../src/runs/runManager';
import type { RunRecord, RunSpec } from '../src/runs/runRecord';

const fake = resolve('test/fake-engine/fake-rwkv-train.mjs');
const scratch = mkdtempSync(join(tmpdir(), 'rwkv-runmanager-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

let n = 0;
function manager(enginePath = fake, interruptMs = 3000, terminateMs = 1000): RunManager {
  return new RunManager({ enginePath: () => enginePath, historyDir: join(scratch, `history-${n++}`), stopTimeouts: { interruptMs, terminateMs } });
}
function spec(argv: string[], env: Record<string, string> = {}): RunSpec {
  return { title: 'demo.sh:3', argv, cwd: scratch, env };
}
function finished(m: RunManager, id: string): Promise<RunRecord> {
  return new Promise((done) => {
    const check = (r: RunRecord) => { if (r.id === id && !['starting', 'running', 'stopping'].includes(r.status)) { m.off('update', check); done(r); } };
    const now = m.get(id);
    if (now && !['starting', 'running', 'stopping'].includes(now.status)) { done(now); return; }
    m.on('update', check);
  });
}
function withEnv<T>(vars: Record<string, string>, f: () => T): T {
  const saved = { ...process.env };
  Object.assign(process.env, vars);
  try { return f(); } finally { for (const k of Object.keys(vars)) { if (saved[k] === undefined) delete process.env[k]; else process.env[k] = saved[k]; } }
}

test('a normal run: argv array, cwd and exported env reach the engine; steps, checkpoint and end are recorded', async () => {
  const m = manager();
  const events: string[] = [];
  m.on('event', (_id, e) => events.push(e.event));
  const odd = 'a b;$(touch /tmp/pwned)'; // would be dangerous through a shell
  const r = m.start(spec(['--steps', '12', '--proj_dir', join(scratch, 'p1'), '--note', odd], { CUDA_VISIBLE_DEVICES: '1' }));
  const done = await finished(m, r.id);
  assert.equal(done.status, 'completed');
  assert.equal(done.exitCode, 0);
  assert.equal(done.stepCount, 12);
  assert.equal(done.lastStep?.step, 12);
  assert.ok(done.bestLoss !== undefined && done.bestLoss < 4.2, String(done.bestLoss));
  const config = done.start?.config as { argv: string[]; cwd: string; env_CUDA_VISIBLE_DEVICES: string };
  assert.deepEqual(config.argv.slice(-2), ['--note', odd]);
  assert.equal(config.cwd, scratch);
  assert.equal(config.env_CUDA_VISIBLE_DEVICES, '1');
  assert.equal(existsSync('/tmp/pwned'), false);
  assert.deepEqual(events.filter((e) => e !== 'step'), ['start', 'checkpoint', 'end']);
  assert.equal(done.checkpoints[0].kind, 'adapter');
  assert.ok(done.stderrTail.some((l) => l.includes('step 12/12')), `progress bar redraws keep their last state: ${JSON.stringify(done.stderrTail)}`);
  // replay and persisted history
  assert.equal(m.events(r.id).filter((e) => e.event === 'step').length, 12);
  m.flush();
  const reloaded = manager(); // a fresh manager on the same folder sees nothing (different dir)...
  assert.equal(reloaded.list().length, 0);
  const again = new RunManager({ enginePath: () => fake, historyDir: (m as unknown as { options: { historyDir: string } }).options.historyDir });
  assert.equal(again.get(r.id)?.status, 'completed');
  assert.equal(again.events(r.id).filter((e) => e.event === 'step').length, 12, 'events come back from the events file');
});

test('a garbage-laden stream: stray prints, split lines, unknown events and fields', async () => {
  const m = manager();
  const garbage: string[] = [];
  m.on('garbage', (_id, line) => garbage.push(line));
  const r = withEnv({ FAKE_MODE: 'garbage' }, () => m.start(spec(['--steps', '8'])));
  const done = await finished(m, r.id);
  assert.equal(done.status, 'completed');
  assert.equal(done.stepCount, 8, 'every split step line was reassembled');
  assert.equal(garbage.length, 4, garbage.join(' | '));
  assert.ok(m.events(r.id).some((e) => e.event === 'futuristic'), 'unknown events are kept');
});

test('stop sends SIGINT and the engine ends as stopped with a resume checkpoint; resume runs the same argv and continues', async () => {
  const m = manager();
  const r = m.start(spec(['--steps', '100000', '--step_ms', '10', '--proj_dir', join(scratch, 'resume')]));
  await new Promise<void>((ok) => m.on('event', (id, e) => { if (id === r.id && e.event === 'step' && (e as StepEvent).step === 5) ok(); }));
  await m.stop(r.id);
  const done = m.get(r.id)!;
  assert.equal(done.status, 'stopped');
  assert.equal(done.signal, null, 'it ended itself, no signal killed it');
  const checkpoint = m.resumeCheckpoint(r.id);
  assert.match(checkpoint ?? '', /rwkv-resume\.pth$/);
  const resumed = m.resume(r.id)!;
  assert.equal(resumed.resumedFromRunId, r.id);
  assert.deepEqual(resumed.spec.argv, done.spec.argv);
  await new Promise<void>((ok) => m.on('event', (id, e) => { if (id === resumed.id && e.event === 'start') ok(); }));
  assert.ok((m.get(resumed.id)!.start?.resumed_from_step ?? 0) >= 5);
  await m.stop(resumed.id);
});

test('an engine that ignores SIGINT and SIGTERM is killed with SIGKILL after the timeouts', async () => {
  const m = manager(fake, 200, 200);
  const r = withEnv({ FAKE_MODE: 'stubborn' }, () => m.start(spec(['--steps', '2'])));
  await new Promise<void>((ok) => m.on('event', (id, e) => { if (id === r.id && e.event === 'step') ok(); }));
  const t0 = Date.now();
  await m.stop(r.id);
  const took = Date.now() - t0;
  const done = m.get(r.id)!;
  assert.equal(done.signal, 'SIGKILL');
  assert.equal(done.status, 'stopped');
  assert.ok(took >= 400 && took < 3000, `took ${took} ms`);
  assert.ok(done.stderrTail.includes('ignoring SIGINT') && done.stderrTail.includes('ignoring SIGTERM'), JSON.stringify(done.stderrTail));
});

test('a crash (exit 3, no end event) is reported as crashed with the last stderr line; records kept', async () => {
  const m = manager();
  const r = withEnv({ FAKE_MODE: 'crash' }, () => m.start(spec(['--steps', '50'])));
  const done = await finished(m, r.id);
  assert.equal(done.status, 'crashed');
  assert.equal(done.exitCode, 3);
  assert.equal(done.stepCount, 3);
  const advice = adviceFor(done)!;
  assert.match(advice.message, /exited with code 3 after 3 steps/);
  assert.match(advice.message, /simulated segfault/);
  assert.ok(existsSync(done.eventsFile!));
  assert.equal(readFileSync(done.eventsFile!, 'utf8').trim().split('\n').length, 4, 'start + 3 steps kept on disk');
});

test('no GPU: the engine error becomes a failed run whose advice offers the CPU', async () => {
  const m = manager();
  const r = withEnv({ FAKE_MODE: 'nogpu' }, () => m.start(spec(['--accelerator', 'gpu'])));
  const done = await finished(m, r.id);
  assert.equal(done.status, 'failed');
  assert.equal(done.failure?.code, 'NO_CUDA');
  const advice = adviceFor(done)!;
  assert.deepEqual(advice.steps, ['runOnCpu', 'showOutput']);
  const cpu = m.startOnCpu(done.spec);
  assert.deepEqual(cpu.spec.argv, ['--accelerator', 'cpu']);
  assert.equal((await finished(m, cpu.id)).status, 'completed');
});

test('engine missing or not executable: a failed record with a next step, no throw', () => {
  const m = manager(join(scratch, 'nope', 'rwkv-train'));
  const r = m.start(spec([]));
  assert.equal(r.status, 'failed');
  assert.equal(r.failure?.code, 'ENGINE_MISSING');
  assert.deepEqual(adviceFor(r)!.steps, ['setEnginePath', 'buildEngine']);
  const notExec = join(scratch, 'rwkv-train');
  writeFileSync(notExec, '#!/bin/sh\n');
  chmodSync(notExec, 0o644);
  const r2 = manager(notExec).start(spec([]));
  assert.equal(r2.failure?.code, 'ENGINE_NOT_EXECUTABLE');
  const r3 = manager().start({ ...spec([]), cwd: join(scratch, 'missing-dir') });
  assert.equal(r3.failure?.code, 'CWD_MISSING');
});

test('several runs at once are independent', async () => {
  const m = manager();
  const runs = [m.start(spec(['--steps', '6'])), m.start(spec(['--steps', '9'])), m.start(spec(['--steps', '100000', '--step_ms', '10']))];
  assert.equal(m.activeRuns().length, 3);
  const [a, b] = await Promise.all([finished(m, runs[0].id), finished(m, runs[1].id)]);
  assert.equal(a.stepCount, 6);
  assert.equal(b.stepCount, 9);
  assert.equal(m.activeRuns().length, 1);
  await m.stop(runs[2].id);
  assert.equal(m.get(runs[2].id)!.status, 'stopped');
});

test('a run live when the window closed is marked crashed on reload', () => {
  const dir = join(scratch, 'orphan');
  const m = new RunManager({ enginePath: () => fake, historyDir: dir });
  m.adopt({ id: 'x', source: 'engine', spec: spec([]), status: 'running', startedAt: 1, stepCount: 0, checkpoints: [], warnings: [], garbageLines: 0, stderrTail: [] }, []);
  m.flush();
  const reloaded = new RunManager({ enginePath: () => fake, historyDir: dir });
  assert.equal(reloaded.get('x')?.status, 'crashed');
  assert.equal(reloaded.get('x')?.failure?.code, 'ORPHANED');
});

test('a corrupt history file gives an empty history, not an exception', () => {
  const dir = join(scratch, 'corrupt');
  const m = new RunManager({ enginePath: () => fake, historyDir: dir });
  m.flush();
  writeFileSync(join(dir, 'history.json'), '{"version":1,"runs":[{"id":');
  assert.deepEqual(new RunManager({ enginePath: () => fake, historyDir: dir }).list(), []);
});

test('withFlag replaces an earlier value in both spellings', () => {
  assert.deepEqual(withFlag(['--a', '1', '--accelerator', 'gpu', '--accelerator=gpu'], '--accelerator', 'cpu'), ['--a', '1', '--accelerator', 'cpu']);
  assert.deepEqual(withFlag(['--a'], '--b', undefined), ['--a']);
});
