// The extension's run handling under faults (issue 14), at the module level: the run manager
// against an engine that is killed, hangs without a word, floods stdout, writes bytes that are
// not UTF-8 or a 10 MB line; metrics.jsonl and the run history truncated or corrupt on reopen.
// No record is lost, nothing throws, and the event loop (the extension host's UI thread) is never
// blocked for long.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { after, test } from 'node:test';
import type { StepEvent } from '../src/runs/protocol';
import { parseProtocolText } from '../src/runs/protocolReader';
import { readRunFile } from '../src/runs/runFiles';
import { RunHistory } from '../src/runs/runHistory';
import { RunManager } from '../src/runs/runManager';
import type { RunRecord } from '../src/runs/runRecord';

const fake = resolve('test/fake-engine/fake-rwkv-train.mjs');
const scratch = mkdtempSync(join(tmpdir(), 'rwkv-runfaults-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let n = 0;
const manager = (interruptMs = 3000, terminateMs = 1000) =>
  new RunManager({ enginePath: () => fake, historyDir: join(scratch, `history-${n++}`), stopTimeouts: { interruptMs, terminateMs } });
const spec = (argv: string[]) => ({ title: 'faults.sh:1', argv, cwd: scratch, env: {} });
function finished(m: RunManager, id: string): Promise<RunRecord> {
  return new Promise((done) => {
    const check = () => { const r = m.get(id)!; if (!['starting', 'running', 'stopping'].includes(r.status)) { m.off('update', check); done(r); } };
    m.on('update', check);
    check();
  });
}
function withMode<T>(mode: string, f: () => T, extra: Record<string, string> = {}): T {
  const saved = { ...process.env };
  Object.assign(process.env, { FAKE_MODE: mode, ...extra });
  try { return f(); } finally { for (const k of ['FAKE_MODE', ...Object.keys(extra)]) { if (saved[k] === undefined) delete process.env[k]; else process.env[k] = saved[k]; } }
}
const eventsOnDisk = (r: RunRecord) => parseProtocolText(readFileSync(r.eventsFile!, 'utf8')).events;

test('an engine killed from outside (SIGKILL): crashed with the signal, every event before it kept', async () => {
  const m = manager();
  const r = m.start(spec(['--steps', '100000', '--step_ms', '2']));
  await new Promise<void>((ok) => m.on('event', (id, e) => { if (id === r.id && e.event === 'step' && (e as StepEvent).step === 20) ok(); }));
  process.kill(r.pid!, 'SIGKILL');
  const done = await finished(m, r.id);
  assert.equal(done.status, 'crashed');
  assert.equal(done.signal, 'SIGKILL');
  const steps = eventsOnDisk(done).filter((e) => e.event === 'step').length;
  assert.ok(steps >= 20 && steps === done.stepCount, `${steps} steps on disk, ${done.stepCount} counted`);
  m.flush();
});

test('a hung engine (no output at all, ignores SIGINT and SIGTERM): stop escalates to SIGKILL within the timeouts', async () => {
  const m = manager(300, 300);
  const r = withMode('hang', () => m.start(spec([])));
  await new Promise((ok) => setTimeout(ok, 300));
  assert.equal(m.get(r.id)!.status, 'starting', 'nothing was said');
  const t0 = Date.now();
  await m.stop(r.id);
  const took = Date.now() - t0;
  const done = m.get(r.id)!;
  assert.equal(done.signal, 'SIGKILL');
  assert.equal(done.status, 'stopped');
  assert.ok(took >= 550 && took < 3000, `${took} ms`);
});

test('an engine flooding stdout (200,000 steps as fast as the pipe goes): every step recorded, the event loop never blocked long', async () => {
  const m = manager();
  const steps = 200_000;
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const t0 = Date.now();
  let seen = 0;
  m.on('event', (_id, e) => { if (e.event === 'step') seen++; });
  const r = withMode('flood', () => m.start(spec(['--steps', String(steps)])));
  const done = await finished(m, r.id);
  lag.disable();
  const seconds = (Date.now() - t0) / 1000;
  console.log(`flood: ${steps} steps in ${seconds.toFixed(2)} s (${Math.round(steps / seconds)} events/s), event loop delay max ${(lag.max / 1e6).toFixed(1)} ms, p99 ${(lag.percentile(99) / 1e6).toFixed(1)} ms`);
  assert.equal(done.status, 'completed');
  assert.equal(seen, steps);
  assert.equal(done.stepCount, steps);
  assert.equal(done.lastStep?.step, steps);
  assert.equal(eventsOnDisk(done).length, steps + 2, 'start, every step and end in the events file');
  assert.ok(lag.max / 1e6 < 500, `event loop blocked ${lag.max / 1e6} ms`);
});

test('bytes that are not UTF-8 and characters split across writes: records kept, replacement characters, no throw', async () => {
  const m = manager();
  const r = withMode('badutf8', () => m.start(spec(['--steps', '5'])));
  const done = await finished(m, r.id);
  assert.equal(done.status, 'completed');
  assert.equal(done.stepCount, 5);
  assert.deepEqual(done.warnings.map((w) => w.code), ['W_BYTES', 'W_SPLIT']);
  assert.match(done.warnings[0].message ?? '', /bad \uFFFD+ end/);
  assert.equal(done.warnings[1].message ?? '', '\u20ac split', 'a character split between two writes is joined');
  assert.ok(done.checkpoints.some((c) => (c.path ?? '').startsWith('/tmp/\uFFFD')), JSON.stringify(done.checkpoints));
  assert.equal(done.garbageLines, 1, 'the stray bytes line');
  const again = new RunManager({ enginePath: () => fake, historyDir: (m as unknown as { options: { historyDir: string } }).options.historyDir });
  assert.equal(again.events(r.id).filter((e) => e.event === 'step').length, 5, 'the events file replays');
});

test('a 10 MB line: dropped as one garbage line with bounded memory, every record after it kept', async () => {
  const m = manager();
  const heap0 = process.memoryUsage().heapUsed;
  let peak = 0;
  const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage().heapUsed - heap0); }, 5);
  const r = withMode('hugeline', () => m.start(spec(['--steps', '10'])));
  const done = await finished(m, r.id);
  clearInterval(sampler);
  assert.equal(done.status, 'completed');
  assert.equal(done.stepCount, 10);
  assert.equal(done.garbageLines, 1);
  assert.ok(peak < 64 * 2 ** 20, `heap grew ${(peak / 2 ** 20).toFixed(1)} MiB`);
});

test('metrics.jsonl cut at every byte and with corrupt lines: never throws, every whole line is a record', () => {
  const lines = [
    JSON.stringify({ event: 'start', v: 1, time: 1, total_steps: 6 }),
    ...Array.from({ length: 6 }, (_, i) => JSON.stringify({ event: 'step', v: 1, time: 2 + i, step: i + 1, loss: 3 - i / 10, note: 'é中' })),
    JSON.stringify({ event: 'end', v: 1, time: 9, status: 'completed', steps: 6 }),
  ];
  const text = lines.join('\n') + '\n';
  const bytes = Buffer.from(text);
  const path = join(scratch, 'metrics.jsonl');
  for (let cut = 0; cut <= bytes.length; cut++) {
    const { record, events } = readRunFile(path, bytes.subarray(0, cut).toString('utf8'));
    const whole = bytes.subarray(0, cut).toString('utf8').split('\n').slice(0, -1).length;  // lines ended by a newline
    assert.ok(events.length >= whole && events.length <= whole + 1, `cut ${cut}: ${events.length} events, ${whole} whole lines`);
    assert.ok(['crashed', 'completed'].includes(record.status));
  }
  // a torn line followed by the next launch's first line (an engine killed mid-line, then resumed)
  const torn = lines[0] + '\n' + lines[1].slice(0, 25) + lines[2] + '\n' + '\u0000\u0000garbage\n' + lines.slice(3).join('\n');
  const { events, record } = readRunFile(path, torn);
  assert.deepEqual(events.filter((e) => e.event === 'step').map((e) => (e as StepEvent).step), [2, 3, 4, 5, 6], 'only the torn step is lost');
  assert.equal(record.garbageLines, 1);
});

test('a run history truncated or corrupt on reopen: the runs come back from their events files', async () => {
  const dir = join(scratch, 'history-corrupt');
  const m = new RunManager({ enginePath: () => fake, historyDir: dir });
  const runs = [m.start(spec(['--steps', '4'])), m.start(spec(['--steps', '7']))];
  for (const r of runs) await finished(m, r.id);
  m.flush();
  const whole = readFileSync(join(dir, 'history.json'), 'utf8');
  for (const broken of [whole.slice(0, whole.length / 2), '', '\u0000\u0001', '{"version":1,"runs":{}}', '[]', whole.replace('"runs"', '"rnus"')]) {
    writeFileSync(join(dir, 'history.json'), broken);
    const reopened = new RunManager({ enginePath: () => fake, historyDir: dir });
    for (const r of runs) {
      const back = reopened.get(r.id);
      assert.ok(back, `run ${r.id} recovered from ${JSON.stringify(broken.slice(0, 30))}`);
      assert.equal(back.status, 'completed');
      assert.equal(back.stepCount, r.id === runs[0].id ? 4 : 7);
      assert.equal(reopened.events(r.id).filter((e) => e.event === 'step').length, back.stepCount);
    }
  }
  // an events file that is itself cut short still gives its run, as far as it goes
  const history = new RunHistory(dir);
  const file = history.eventsFileFor(runs[1].id);
  const text = readFileSync(file, 'utf8');
  writeFileSync(file, text.slice(0, text.length - 30));
  writeFileSync(join(dir, 'history.json'), '{');
  const reopened = new RunManager({ enginePath: () => fake, historyDir: dir });
  assert.equal(reopened.get(runs[1].id)?.status, 'crashed', 'no end event: it did not finish as far as the file shows');
  assert.equal(reopened.get(runs[1].id)?.stepCount, 7);
});

test('the events of a killed extension host (a half-written last line) replay without it', () => {
  const dir = join(scratch, 'history-torn');
  mkdirSync(join(dir, 'runs'), { recursive: true });
  writeFileSync(join(dir, 'runs', 'r1.jsonl'), '{"event":"start","v":1}\n{"event":"step","v":1,"step":1,"loss":2}\n{"event":"step","v":1,"st');
  const m = new RunManager({ enginePath: () => fake, historyDir: dir });
  assert.equal(m.get('r1')?.stepCount, 1);
  assert.equal(m.events('r1').length, 2);
});
