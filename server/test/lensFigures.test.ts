// The lens's figures from facts (pure): the time from the GPU class's model, replaced by a cached
// probe of the same run, scaled by probes of other runs on an unmeasured GPU, none otherwise;
// memory against the detected GPU before the setting; durations as people read them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { duration, lensFigures, type EstimateContext } from '../src/estimate/lensFigures';
import type { RunFacts } from '../src/facts/snapshot';
import type { RunSchedule } from '../src/facts/facts';
import type { ProbeRecord } from '../src/estimate/throughputModel';
import { parseDocument } from '../src/parse/parseDocument';

const script = "python train.py --n_layer 24 --n_embd 2048 --ctx_len 1024 --micro_bsz 1 --grad_cp 1 --peft lora --peft_config '{\"r\":64}'\n";
const run = parseDocument(script, 'shell', 'file:///w/run.sh').runs[0];
const TRAINABLE = 56623104, TOTAL = 1584027648;  // the measured lora-1.5b row

function facts(totalSteps: number): RunFacts {
  return {
    cwd: '/w', paths: new Map(),
    memory: { ok: { totalBytes: 6.1e9, byCategory: { weights: 3.2e9 }, stack: 'reference', totalParams: TOTAL, trainableParams: TRAINABLE,
      other: { totalBytes: 5.0e9, byCategory: { weights: 3.1e9, optimizer: 0.45e9 }, stack: 'engine', totalParams: TOTAL, trainableParams: TRAINABLE } } },
    schedule: { ok: { totalSteps, tokensPerStep: 1024, totalTokens: totalSteps * 1024, untilStopped: false, epochCount: 1, microBsz: 1, ctxLen: 1024,
      accumulate: 1, epoch: { onePass: true, pool: totalSteps, microBatches: totalSteps, lastBatchRows: 1, optimizerSteps: totalSteps }, documentsKnown: true } },
  };
}
const h100 = { name: 'NVIDIA H100 80GB HBM3', totalBytes: 85520809984 };
const probe = (name: string, tps: number, trainable = TRAINABLE): ProbeRecord => ({
  tokens_per_s: tps, time: 1_800_000_000, device: { backend: 'cuda', name },
  config: { n_layer: 24, n_embd: 2048, ctx_len: 1024, micro_bsz: 1, accumulate_grad_batches: 1, peft: 'lora', grad_cp: 1 },
  params: { trainable, total: TOTAL },
});

test('durations', () => {
  assert.equal(duration(30), '< 1 min');
  assert.equal(duration(125), '2 min');
  assert.equal(duration(7800), '2 h 10 min');
  assert.equal(duration(3600 * 50), '2 d 2 h');
});

test('the H100 model: 6,000 steps of the measured lora-1.5b row take what its 7,511 tokens/s says', () => {
  const ctx: EstimateContext = { targetGpu: h100, probes: [] };
  const f = lensFigures(run, facts(6000), undefined, ctx)!;
  // 6,000 × 1,024 tokens at 7,511 tokens/s (measured) = 13.6 min; the model is within 15%
  const minutes = Number(/≈ (\d+) min/.exec(f.title)?.[1]);
  assert.ok(minutes >= 13.6 * 0.85 && minutes <= 13.6 * 1.15, f.title);
  assert.match(f.title, /^≈ 5\.0 of 85\.5 GB · ≈ \d+ min · 6,000 steps × 1,024 tokens$/);
  assert.match(f.tooltip, /PyTorch: ≈ 6\.1 GB/);
  assert.match(f.tooltip, /the rwkvStudio\.targetGpu setting/);
});

test('a detected GPU comes before the setting', () => {
  const f = lensFigures(run, facts(10), [{ index: 0, name: 'NVIDIA H100 PCIe', computeCapability: '9.0', totalBytes: 80e9, freeBytes: 80e9, driverVersion: '1' }], { targetGpu: h100, probes: [] })!;
  assert.match(f.title, /of 80\.0 GB/);
  assert.match(f.tooltip, /detected, GPU 0/);
});

test('a probe of the same run replaces the model; one of another run does not', () => {
  const steps = 3600;  // 3,686,400 tokens
  const f = lensFigures(run, facts(steps), undefined, { targetGpu: h100, probes: [probe(h100.name, 1024)] })!;
  assert.match(f.title, /≈ 1 h · /);  // 3,600 s at 1,024 tokens/s
  assert.match(f.tooltip, /measured by rwkv-train probe of this run/);
  const other = lensFigures(run, facts(steps), undefined, { targetGpu: h100, probes: [probe(h100.name, 1024, TRAINABLE + 1)] })!;
  assert.doesNotMatch(other.tooltip, /measured by rwkv-train probe/);
});

test('an unmeasured GPU: no time, then the model scaled by a probe there', () => {
  const gpu = { name: 'NVIDIA GeForce RTX 4090', totalBytes: 25.7e9 };
  const none = lensFigures(run, facts(6000), undefined, { targetGpu: gpu, probes: [] })!;
  assert.match(none.title, / · time: probe · /);
  // a probe of a smaller run there, at half the H100 model's rate: this run is scaled alike
  const small = { ...probe(gpu.name, 1), config: { ...probe(gpu.name, 1).config, ctx_len: 512 } };
  const base = lensFigures(run, facts(6000), undefined, { targetGpu: h100, probes: [] })!;
  const h100Tps = Number(/at ≈ ([\d,]+) tokens\/s/.exec(base.tooltip)![1].replace(/,/g, ''));
  // the model's rate for the probed (ctx 512) run, halved, is what the probe "measured"
  const ratioProbe = { ...small, tokens_per_s: 0 };
  const probed = lensFigures(parseDocument(script.replace('--ctx_len 1024', '--ctx_len 512'), 'shell', 'file:///w/r.sh').runs[0],
    { ...facts(10), schedule: { ok: { ...(facts(10).schedule as { ok: RunSchedule }).ok, ctxLen: 512 } } }, undefined, { targetGpu: h100, probes: [] })!;
  const modelSmall = Number(/at ≈ ([\d,]+) tokens\/s/.exec(probed.tooltip)![1].replace(/,/g, ''));
  ratioProbe.tokens_per_s = modelSmall / 2;
  const scaled = lensFigures(run, facts(6000), undefined, { targetGpu: gpu, probes: [ratioProbe] })!;
  const tps = Number(/at ≈ ([\d,]+) tokens\/s/.exec(scaled.tooltip)![1].replace(/,/g, ''));
  assert.ok(Math.abs(tps / (h100Tps / 2) - 1) < 0.01, `${tps} vs ${h100Tps / 2}`);
  assert.match(scaled.tooltip, /scaled ×0\.50 by your 1 probe/);
});

test('RWKV-LM until stopped, and an uncounted dataset', () => {
  const f = facts(100);
  (f.schedule as { ok: { untilStopped: boolean } }).ok.untilStopped = true;
  assert.match(lensFigures(run, f, undefined, { targetGpu: h100, probes: [] })!.title, /until stopped × 1,024 tokens$/);
  const g = facts(100);
  (g.schedule as { ok: { documentsKnown: boolean } }).ok.documentsKnown = false;
  const lens = lensFigures(run, g, undefined, { targetGpu: h100, probes: [] })!;
  assert.match(lens.title, /≤ 100 steps/);
  assert.match(lens.tooltip, /could not be counted/);
});
