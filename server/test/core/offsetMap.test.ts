// OffsetMap keeps per-character document offsets as runs; every operation must agree with the
// plain per-character array it replaces (the reference model here), whatever the runs look like.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OffsetMap } from '../../src/core/offsetMap';

/** The reference: the per-character offsets, and the span they cover. */
function spanOfArray(a: number[], from: number, to: number): { start: number; end: number } | undefined {
  let start = -1, end = -1;
  for (let i = Math.max(0, from); i < Math.min(to, a.length); i++) {
    const o = a[i]!;
    if (o < 0) continue;
    if (start < 0 || o < start) start = o;
    if (o + 1 > end) end = o + 1;
  }
  return start < 0 ? undefined : { start, end };
}

let seed = 7;
const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };

/** A random map built the way the lexer and expansion build them: runs, single characters, copies. */
function randomMap(): { map: OffsetMap; ref: number[] } {
  const map = new OffsetMap();
  const ref: number[] = [];
  const pieces = rnd(6);
  for (let p = 0; p < pieces; p++) {
    const len = rnd(5);
    const kind = rnd(4);
    const doc = kind === 0 ? -1 : kind === 1 && ref.length && ref[ref.length - 1]! >= 0 ? ref[ref.length - 1]! + 1 : rnd(100);
    map.appendRun(doc, len);
    for (let k = 0; k < len; k++) ref.push(doc < 0 ? -1 : doc + k);
  }
  return { map, ref };
}

test('runs agree with a per-character array under append, slice, concat, at, span and indexOf', () => {
  for (let trial = 0; trial < 3000; trial++) {
    const a = randomMap();
    const b = randomMap();
    assert.deepEqual(a.map.toArray(), a.ref);
    assert.equal(a.map.length, a.ref.length);
    const from = rnd(a.ref.length + 2) - 1;
    const to = rnd(a.ref.length + 3);
    assert.deepEqual(a.map.slice(from, to).toArray(), a.ref.slice(Math.max(0, from), Math.max(0, to)), `slice(${from}, ${to}) of ${JSON.stringify(a.ref)}`);
    assert.deepEqual(a.map.span(from, to), spanOfArray(a.ref, from, to), `span(${from}, ${to}) of ${JSON.stringify(a.ref)}`);
    assert.deepEqual(a.map.concat(b.map).toArray(), [...a.ref, ...b.ref]);
    const copy = new OffsetMap().appendMap(b.map, 1).appendMap(a.map, from, to);
    assert.deepEqual(copy.toArray(), [...b.ref.slice(1), ...a.ref.slice(Math.max(0, from), Math.max(0, to))]);
    assert.equal(a.map.at(-1), -1);
    assert.equal(a.map.at(a.ref.length), -1);
    assert.equal(a.map.hasUnknown(), a.ref.includes(-1));
    const s = { start: rnd(100), end: 0 };
    s.end = s.start + rnd(10);
    assert.equal(a.map.touches(s), a.ref.some((o) => o >= s.start && o < s.end));
    const doc = rnd(110);
    assert.equal(a.map.indexOf(doc), a.ref.indexOf(doc), `indexOf(${doc}) of ${JSON.stringify(a.ref)}`);
    assert.equal(a.map.indexOf(-1), -1, "no source is not a document offset");
  }
});

test('text typed in one piece stays one run, however it is appended', () => {
  const m = new OffsetMap().appendRun(10, 3).appendRun(13, 1).appendMap(OffsetMap.contiguous(14, 20));
  assert.equal(m.runs, 1);
  assert.equal(m.length, 24);
  assert.deepEqual(m.span(), { start: 10, end: 34 });
  const gaps = new OffsetMap().appendRun(10, 3).appendRun(20, 2).appendRun(-1, 4).appendRun(-1, 1);
  assert.equal(gaps.runs, 3);
  assert.deepEqual(gaps.toArray(), [10, 11, 12, 20, 21, -1, -1, -1, -1, -1]);
  assert.deepEqual(OffsetMap.unknown(3).span(), undefined);
  assert.equal(new OffsetMap().runs, 0);
});
