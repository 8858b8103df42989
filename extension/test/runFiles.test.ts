import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { StepEvent } from '../src/runs/protocol';
import { FileFollower, readRunFile } from '../src/runs/runFiles';

const dir = mkdtempSync(join(tmpdir(), 'rwkv-runfiles-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a finished metrics.jsonl opens as a run with its summary', () => {
  const path = join(dir, 'metrics.jsonl');
  const text = [
    '{"event":"start","v":1,"time":1700000000,"total_steps":3}',
    '{"event":"step","v":1,"step":1,"loss":3.0}', 'garbage', '{"event":"step","v":1,"step":2,"loss":2.0}',
    '{"event":"step","v":1,"step":3,"loss":2.5}', '{"event":"end","v":1,"status":"completed","steps":3}',
  ].join('\n');
  const { record, events } = readRunFile(path, text);
  assert.equal(record.source, 'metrics-file');
  assert.equal(record.status, 'completed');
  assert.equal(record.bestLoss, 2.0);
  assert.equal(record.stepCount, 3);
  assert.equal(record.garbageLines, 1);
  assert.equal(record.startedAt, 1700000000 * 1000);
  assert.equal(events.length, 5);
});

test('a metrics.jsonl without an end event is shown as crashed (the run did not finish)', () => {
  const { record } = readRunFile(join(dir, 'metrics.jsonl'), '{"event":"step","step":1,"loss":1}\n');
  assert.equal(record.status, 'crashed');
});

test('RWKV-PEFT loss_data.jsonl becomes step events with elapsed time and tokens/s', () => {
  const { record, events } = readRunFile(join(dir, 'loss_data.jsonl'), '{"loss": 3.5, "t_cost": 0.5, "kt_s": 12.0}\n{"loss": 3.0, "t_cost": 0.25, "kt_s": 13.0}\nnot json\n');
  assert.equal(record.source, 'peft-loss-log');
  assert.deepEqual(events, [
    { event: 'step', v: 1, step: 1, loss: 3.5, elapsed_s: 0.5, tokens_per_s: 12000 },
    { event: 'step', v: 1, step: 2, loss: 3.0, elapsed_s: 0.75, tokens_per_s: 13000 },
  ]);
  assert.equal(record.garbageLines, 1);
});

test('following a growing loss_data.jsonl sees lines appended in pieces', () => {
  const path = join(dir, 'follow', 'loss_data.jsonl');
  const seen: StepEvent[] = [];
  const follower = new FileFollower(path, (e) => seen.push(e as StepEvent));
  follower.poll(); // file not there yet: nothing, no throw
  rmSync(join(dir, 'follow'), { recursive: true, force: true });
  mkdirSync(join(dir, 'follow'));
  writeFileSync(path, '{"loss": 2.0, "t_cost": 1, "kt_s": 1}\n{"loss": 1.');
  follower.poll();
  assert.equal(seen.length, 1);
  appendFileSync(path, '5, "t_cost": 1, "kt_s": 1}\n');
  follower.poll();
  assert.deepEqual(seen.map((e) => [e.step, e.loss, e.elapsed_s]), [[1, 2.0, 1], [2, 1.5, 2]]);
});

test('following a metrics.jsonl that is truncated starts over', () => {
  const path = join(dir, 'metrics2.jsonl');
  const seen: string[] = [];
  const follower = new FileFollower(path.replace('metrics2', 'metrics2'), (e) => seen.push(e.event));
  writeFileSync(path, '{"event":"start"}\n{"event":"step","step":1}\n');
  follower.poll();
  writeFileSync(path, '{"event":"start"}\n');
  follower.poll();
  assert.deepEqual(seen, ['start', 'step', 'start']);
});

test('an opened loss_data.jsonl replays (converted) after the window reloads', async () => {
  const { RunManager } = await import('../src/runs/runManager');
  const path = join(dir, 'reload', 'loss_data.jsonl');
  mkdirSync(join(dir, 'reload'), { recursive: true });
  writeFileSync(path, '{"loss": 2.0, "t_cost": 1, "kt_s": 1}\n{"loss": 1.5, "t_cost": 1, "kt_s": 1}\n');
  const history = join(dir, 'reload-history');
  const m = new RunManager({ enginePath: () => '', historyDir: history });
  const { record, events } = readRunFile(path, '');
  m.adopt(record, events);
  m.flush();
  const after = new RunManager({ enginePath: () => '', historyDir: history });
  assert.deepEqual(after.events(record.id).map((e) => (e as StepEvent).loss), [2.0, 1.5]);
});
