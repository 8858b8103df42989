import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LodSeries } from '../src/lod';
import { smooth, Smoother, stepGap, toCsv, xOf } from '../src/series';

test('below the bucket limit every point is drawn as is', () => {
  const s = new LodSeries(100);
  for (let i = 0; i < 100; i++) s.push({ x: i, y: i % 7 });
  assert.equal(s.data.length, 100);
  assert.deepEqual(s.data.map((p) => p.x), [...Array(100).keys()]);
});

test('1 M points stay within 2 × maxBuckets drawn points, in x order, keeping the extremes', () => {
  const s = new LodSeries(1024);
  let spikeAt = 777_777;
  for (let i = 0; i < 1_000_000; i++) s.push({ x: i, y: i === spikeAt ? 100 : i === 123_456 ? -50 : Math.sin(i / 1000) });
  assert.equal(s.count, 1_000_000);
  assert.ok(s.data.length <= 2048, String(s.data.length));
  for (let i = 1; i < s.data.length; i++) assert.ok(s.data[i].x > s.data[i - 1].x, `x order at ${i}`);
  assert.ok(s.data.some((p) => p.x === spikeAt && p.y === 100), 'the spike survives');
  assert.ok(s.data.some((p) => p.x === 123_456 && p.y === -50), 'the dip survives');
  assert.deepEqual(s.first, { x: 0, y: 0 });
  assert.equal(s.last!.x, 999_999);
  spikeAt = -1;
});

test('the drawn min/max equal a brute-force min/max per bucket', () => {
  const s = new LodSeries(8);
  const ys = Array.from({ length: 1000 }, (_, i) => Math.sin(i * 1.7) * (i % 13));
  ys.forEach((y, x) => s.push({ x, y }));
  const bucket = 128; // 1000 points in <= 8 buckets: size doubles 1 -> 128
  for (let start = 0; start < 1000; start += bucket) {
    const slice = ys.slice(start, start + bucket);
    const inBucket = s.data.filter((p) => p.x >= start && p.x < start + bucket).map((p) => p.y);
    assert.equal(Math.min(...inBucket), Math.min(...slice));
    assert.equal(Math.max(...inBucket), Math.max(...slice));
  }
});

test('smoothing is debiased (the first value is kept) and 0 means raw', () => {
  assert.deepEqual(smooth([4, 2], 0), [4, 2]);
  const s = smooth([4, 4, 4], 0.9);
  assert.ok(s.every((v) => Math.abs(v - 4) < 1e-12));
  const t = smooth([4, 0], 0.5);
  assert.ok(Math.abs(t[1] - (0.5 * 4 * 0.5) / (1 - 0.25)) < 1e-12);
});

test('smoothing weights a point by the steps it stands for (a thinned replay), 1 step = plain EMA', () => {
  const c = new Smoother(0.9), d = new Smoother(0.9);
  c.next(3); c.next(5); const twoSteps = c.next(5);
  d.next(3); const oneGap = d.next(5, 2);
  assert.ok(Math.abs(twoSteps - oneGap) < 1e-12, `${twoSteps} vs ${oneGap}`);
  assert.equal(stepGap({ step: 10 }, { step: 7 }), 3);
  assert.equal(stepGap({ step: 1 }, undefined), 1);
  assert.equal(stepGap({ step: 5 }, { step: 5 }), 1);
});

test('x axis by step, RWKV step, tokens or time; CSV quotes titles with commas', () => {
  const p = { step: 3, realStep: 803, tokens: 600, elapsed: 1.5, loss: 2 };
  assert.deepEqual([xOf(p, 'step'), xOf(p, 'realStep'), xOf(p, 'tokens'), xOf(p, 'time')], [3, 803, 600, 1.5]);
  const csv = toCsv([{ id: 'a', title: 'x,"y"', status: 'completed', source: 'engine', steps: 1, config: '' }], { a: [p] }, ['a'], 0);
  assert.equal(csv.split('\n')[0].split(',')[3], 'real_step');
  assert.equal(csv.split('\n')[1], 'a,"x,""y""",3,803,600,1.5,2,2,,,,');
});
