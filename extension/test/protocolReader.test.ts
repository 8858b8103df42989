import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_LINE_CHARS, parseProtocolLine, parseProtocolText, ProtocolReader, type ReadItem } from '../src/runs/protocolReader';

function collect(chunks: (string | Buffer)[]): ReadItem[] {
  const items: ReadItem[] = [];
  const reader = new ProtocolReader((item) => items.push(item));
  for (const c of chunks) reader.push(c);
  reader.end();
  return items;
}

test('a line split across chunks at every position gives the same event', () => {
  const line = '{"event":"step","v":1,"step":7,"loss":2.5,"lr":0.001}\n';
  for (let cut = 0; cut <= line.length; cut++) {
    const items = collect([line.slice(0, cut), line.slice(cut)]);
    assert.equal(items.length, 1, `cut at ${cut}`);
    assert.equal(items[0].kind, 'event');
    assert.deepEqual(items[0].kind === 'event' && items[0].event, { event: 'step', v: 1, step: 7, loss: 2.5, lr: 0.001 });
  }
});

test('a multi-byte UTF-8 character split between buffers is decoded whole', () => {
  const bytes = Buffer.from('{"event":"warning","message":"显存不足"}\n', 'utf8');
  const cut = bytes.indexOf(Buffer.from('显', 'utf8')) + 1; // inside the character
  const items = collect([bytes.subarray(0, cut), bytes.subarray(cut)]);
  assert.equal(items.length, 1);
  assert.equal(items[0].kind === 'event' && (items[0].event as { message: string }).message, '显存不足');
});

test('garbage lines are reported with a reason and do not stop the stream', () => {
  const items = collect(['Loading...\n{bad json\n[1,2]\n{"no_event":1}\n{"event":"step","step":"x"}\n{"event":"end","status":"completed"}\n']);
  assert.deepEqual(items.map((i) => i.kind), ['garbage', 'garbage', 'garbage', 'garbage', 'garbage', 'event']);
  assert.deepEqual(items.filter((i) => i.kind === 'garbage').map((i) => i.kind === 'garbage' && i.reason), [
    'not a JSON object', 'invalid JSON', 'not a JSON object', 'no "event" field', 'step event without a numeric "step"',
  ]);
});

test('unknown events and unknown fields pass through untouched', () => {
  const item = parseProtocolLine('{"event":"telemetry","v":2,"x":{"y":1}}');
  assert.equal(item.kind, 'event');
  assert.deepEqual(item.kind === 'event' && item.event, { event: 'telemetry', v: 2, x: { y: 1 } });
  const step = parseProtocolLine('{"event":"step","step":1,"loss":3,"new_metric":42}');
  assert.equal(step.kind === 'event' && (step.event as Record<string, unknown>).new_metric, 42);
});

test('non-numeric metric values are dropped, the step is kept', () => {
  const item = parseProtocolLine('{"event":"step","step":3,"loss":"nan","lr":null,"tokens":100}');
  assert.equal(item.kind, 'event');
  assert.deepEqual(item.kind === 'event' && item.event, { event: 'step', step: 3, tokens: 100 });
});

test('CRLF, BOM and an unterminated last line are handled', () => {
  const items = collect(['\uFEFF{"event":"start","v":1}\r\n{"event":"end","status":"stopped"}']);
  assert.deepEqual(items.map((i) => i.kind === 'event' && i.event.event), ['start', 'end']);
});

test('a runaway line without newline is dropped once, later lines still parse', () => {
  const items: ReadItem[] = [];
  const reader = new ProtocolReader((i) => items.push(i));
  const chunk = 'x'.repeat(64 * 1024);
  for (let n = 0; n * chunk.length <= MAX_LINE_CHARS + chunk.length; n++) reader.push(chunk);
  reader.push('still the same long line\n{"event":"end","status":"completed"}\n');
  reader.end();
  assert.equal(items.length, 2);
  assert.equal(items[0].kind, 'garbage');
  assert.equal(items[1].kind === 'event' && items[1].event.event, 'end');
});

test('parseProtocolText counts garbage but not blank lines', () => {
  const { events, garbage } = parseProtocolText('{"event":"start"}\n\nnoise\n{"event":"step","step":1}\n');
  assert.equal(events.length, 2);
  assert.equal(garbage, 1);
});
