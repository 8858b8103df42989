import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { configSummary, pointsOf, runsCsv, summaryOf, thinForReplay } from '../src/dashboard/dashboardModel';
import { adviceFor, english } from '../src/runs/failureAdvice';
import { applyEvent } from '../src/runs/applyEvent';
import { emptyRecord } from '../src/runs/runRecord';
import { trainCallLines } from '../src/trainCalls';

test('step events become chart points with renamed fields; other events are skipped', () => {
  const points = pointsOf([
    { event: 'start' },
    { event: 'step', step: 1, real_step: 801, loss: 3, lr: 1e-4, tokens: 100, tokens_per_s: 50, gpu_mem_used_bytes: 1, gpu_mem_reserved_bytes: 2, elapsed_s: 0.5 },
    { event: 'checkpoint' },
    { event: 'step', step: 2 },
  ]);
  assert.deepEqual(points, [{ step: 1, realStep: 801, loss: 3, lr: 1e-4, tokens: 100, tokensPerS: 50, memUsed: 1, memReserved: 2, elapsed: 0.5 }, { step: 2 }]);
});

test('the run table summary: config from the start event, else from argv; duration of live runs', () => {
  const r = emptyRecord('r1', 'engine', { title: 'lora.sh:12', argv: ['--ctx_len', '512', '--micro_bsz', '4', '--peft', 'lora'], cwd: '/', env: {} }, 1000);
  assert.equal(configSummary(r), 'lora · ctx 512 · bsz 4');
  r.start = { event: 'start', config: { peft: 'pissa', ctx_len: 1024 }, model: { n_layer: 12, n_embd: 768 }, total_steps: 100, device: { name: 'H100', total_memory_bytes: 8e10 } };
  r.status = 'running';
  r.lastStep = { event: 'step', step: 40, loss: 2.5 };
  r.bestLoss = 2.4;
  const s = summaryOf(r, 31_000);
  assert.equal(s.config, 'L12 D768 · pissa · ctx 1024 · bsz 4');
  assert.equal(s.durationS, 30);
  assert.deepEqual([s.steps, s.totalSteps, s.bestLoss, s.lastLoss, s.totalMemory, s.deviceName], [40, 100, 2.4, 2.5, 8e10, 'H100']);
});

test('steps the bad-step guard skipped reach the summary (the loss chart marks them)', () => {
  const r = emptyRecord('r2', 'engine', { title: 't', argv: [], cwd: '/', env: {} }, 0);
  assert.equal(summaryOf(r).skippedSteps, undefined);
  applyEvent(r, { event: 'warning', code: 'W_STEP_SKIPPED', message: 'step 7 skipped', step: 7, epoch: 0, samples: [12, 13] } as never, true);
  applyEvent(r, { event: 'warning', code: 'W_FLAG_IGNORED', message: 'x' } as never, true);
  applyEvent(r, { event: 'warning', code: 'W_STEP_SKIPPED', message: 'step 7 skipped', step: 7 } as never, true);
  assert.deepEqual(summaryOf(r).skippedSteps, [7, 7]);
});

test('advice: completed and stopped runs need none; an engine error without a GPU hint gets Show Output', () => {
  const r = emptyRecord('r', 'engine', { title: 't', argv: [], cwd: '/', env: {} });
  r.status = 'completed';
  assert.equal(adviceFor(r), undefined);
  r.status = 'failed';
  r.failure = { code: 'DATA_MISSING', message: 'data/x.bin not found.', hint: 'Check --data_file.' };
  const a = adviceFor(r)!;
  assert.equal(a.message, 'Training failed (DATA_MISSING): data/x.bin not found. Check --data_file.');
  assert.deepEqual(a.steps, ['showOutput', 'openScript']);
  for (const failure of [
    { code: 'E', message: 'CUDA driver version is insufficient' },
    { code: 'E_NO_GPU', message: 'nothing to train on' },
    { code: 'E_CUDA_UNAVAILABLE', message: 'x' },
    { code: 'E_DEVICE', message: 'no NVIDIA driver found: libnvidia-ml.so.1: cannot open shared object file' },
  ]) {
    r.failure = failure;
    assert.deepEqual(adviceFor(r)!.steps, ['runOnCpu', 'showOutput'], failure.code);
  }
  r.failure = { code: 'E_FLAG_UNKNOWN', message: 'unknown flag --bogus', hint: 'run rwkv-train --help' };
  assert.deepEqual(adviceFor(r)!.steps, ['showOutput', 'openScript'], 'not mistaken for a GPU problem');
});

test('advice for a crash offers Resume only when a resume checkpoint exists', () => {
  const r = emptyRecord('r', 'engine', { title: 't', argv: [], cwd: '/', env: {} });
  r.status = 'crashed';
  r.signal = 'SIGSEGV';
  r.stepCount = 7;
  assert.match(adviceFor(r)!.message, /was killed by SIGSEGV after 7 steps/);
  assert.deepEqual(adviceFor(r)!.steps, ['showOutput']);
  r.checkpoints.push({ event: 'checkpoint', kind: 'resume', path: 'x' });
  assert.deepEqual(adviceFor(r)!.steps, ['resume', 'showOutput']);
});

test('advice is localised through the localizer the extension passes (vscode.l10n with the zh-cn bundle)', () => {
  const bundle = JSON.parse(readFileSync('extension/l10n/bundle.l10n.zh-cn.json', 'utf8')) as Record<string, string>;
  const zh = { t: (m: string, ...args: (string | number)[]) => english.t(bundle[m] ?? `MISSING:${m}`, ...args) };
  const r = emptyRecord('r', 'engine', { title: 't', argv: [], cwd: '/', env: {} });
  r.status = 'crashed';
  r.exitCode = 3;
  r.stepCount = 7;
  r.stderrTail = ['boom'];
  assert.equal(adviceFor(r, zh)!.message, '引擎在第 7 步后以退出码 3 退出,训练未完成。 引擎最后输出:"boom"。 其记录已保存在运行历史中。');
  assert.equal(adviceFor(r)!.message, 'The engine exited with code 3 after 7 steps without finishing the run. Last engine output: "boom". Its records are kept in the run history.');
  r.status = 'failed';
  r.failure = { code: 'E_FLAG_VALUE', message: '--ctx_len: must be positive', hint: 'e.g. 1024' };
  assert.equal(adviceFor(r, zh)!.message, '训练失败(E_FLAG_VALUE):--ctx_len: must be positive e.g. 1024');
  r.failure = { code: 'E_CUDA_UNSUPPORTED', message: '--train_type infctx is not yet implemented on the GPU', hint: 'pass --accelerator cpu' };
  assert.deepEqual(adviceFor(r)!.steps, ['runOnCpu', 'showOutput', 'openScript'], 'a GPU-only gap offers the CPU');
  assert.match(adviceFor(r, zh)!.message, /^GPU 引擎暂不支持此设置:--train_type infctx/);
});

test('train.py call lines: continuations counted once, comments skipped', () => {
  const text = ['# python train.py (a comment)', 'python train.py --a 1 \\', '  --b 2', 'echo done', 'CUDA_VISIBLE_DEVICES=0 python3 ../RWKV-PEFT/train.py \\', '--c 3'].join('\n');
  assert.deepEqual(trainCallLines(text), [1, 4]);
});

test('GPU lists from the engine (JSON) and from nvidia-smi (CSV)', async () => {
  const { parseEngineGpus, parseNvidiaSmi, describeGpu } = await import('../src/gpuList');
  const engine = parseEngineGpus('{"gpus":[{"index":0,"name":"NVIDIA H100 80GB HBM3","compute_capability":"9.0","total_bytes":85520809984,"free_bytes":84000000000}],"driver_version":"580.1"}\n')!;
  assert.equal(engine.gpus.length, 1);
  assert.deepEqual(describeGpu(engine.gpus[0]), { label: '0: NVIDIA H100 80GB HBM3', description: '78.2 / 79.6 GiB free · sm 9.0' });
  assert.equal(engine.driver, '580.1');
  const none = parseEngineGpus('{"gpus":[],"driver_version":"","reason":"libnvidia-ml.so.1 not found"}')!;
  assert.deepEqual([none.gpus.length, none.reason], [0, 'libnvidia-ml.so.1 not found']);
  assert.equal(parseEngineGpus('garbage'), undefined);
  const smi = parseNvidiaSmi('0, NVIDIA H200, 143771, 143000\n1, NVIDIA H200, 143771, 100\n');
  assert.deepEqual(smi.gpus.map((g) => [g.index, g.name, g.totalBytes]), [[0, 'NVIDIA H200', 143771 * 1024 ** 2], [1, 'NVIDIA H200', 143771 * 1024 ** 2]]);
});

test('a long run is thinned for replay: ~20 k points, every stretch keeps its loss, tokens/s and memory extremes', () => {
  const short = Array.from({ length: 500 }, (_, i) => ({ step: i + 1, loss: 1 / (i + 1) }));
  assert.deepEqual(thinForReplay(short), short);
  const n = 1_000_000;
  const points = Array.from({ length: n }, (_, i) => ({
    step: i + 1, loss: 3 * Math.exp(-i / 2e5) + 0.2 * Math.sin(i * 0.37), tokensPerS: i === 654_321 ? 1 : 5e4 + (i % 97), memUsed: 4e9 + (i % 1013),
  }));
  const thin = thinForReplay(points);
  assert.ok(thin.length <= 20_000 && thin.length > 10_000, `${thin.length} points`);
  assert.equal(thin[0], points[0]);
  assert.equal(thin.at(-1), points.at(-1), 'the latest point is kept');
  for (let i = 1; i < thin.length; i++) assert.ok(thin[i].step > thin[i - 1].step, 'in step order, no repeats');
  assert.ok(thin.some((p) => p.tokensPerS === 1), 'a one-step dip in tokens/s survives');
  // The chart draws min/max per stretch: stretches of whole buckets (3 x 350 steps here) have
  // the same loss extremes as the full run.
  const bucket = Math.ceil((n * 7) / 20_000);
  let checked = 0;
  for (let lo = 1; lo + 3 * bucket - 1 <= n; lo += 3 * bucket) {
    const hi = lo + 3 * bucket - 1;
    const full = points.slice(lo - 1, hi).map((p) => p.loss);
    const kept = thin.filter((p) => p.step >= lo && p.step <= hi).map((p) => p.loss!);
    assert.equal(Math.min(...kept), Math.min(...full));
    assert.equal(Math.max(...kept), Math.max(...full));
    checked++;
  }
  assert.ok(checked > 900);
});

test('CSV export comes from the full events of the shown runs, known ones only, smoothing clamped', () => {
  const r = emptyRecord('a', 'engine', { title: 'run, one', argv: [], cwd: '/', env: {} });
  const events = Array.from({ length: 30_000 }, (_, i) => ({ event: 'step' as const, step: i + 1, loss: 2 }));
  const csv = runsCsv([r], () => events, ['a', 'gone'], 7);
  const lines = csv.trim().split('\n');
  assert.equal(lines.length, 1 + 30_000, 'every step, not the thinned replay');
  assert.equal(lines[1], 'a,"run, one",1,,,,2,2,,,,');  // step 1, no real_step, tokens or time
  assert.equal(runsCsv([r], () => events, [], 0.5).trim(), lines[0]);
});

test('a run on several GPUs: the summary carries the world size and every rank\'s memory, the table names them; one GPU reads as before', async () => {
  const { ranksText } = await import('../../webview/src/devices');
  const r = emptyRecord('dp', 'engine', { title: 'lora.sh:3', argv: [], cwd: '/', env: {} }, 0);
  r.start = { event: 'start', world_size: 2, device: { name: 'NVIDIA H100', total_memory_bytes: 80 * 1024 ** 3 } };
  r.lastStep = {
    event: 'step', step: 3, gpu_mem_used_bytes: 5 * 1024 ** 3,
    ranks: [
      { rank: 1, gpu_mem_used_bytes: 5.5 * 1024 ** 3, gpu_mem_reserved_bytes: 6 * 1024 ** 3 },
      { rank: 0, gpu_mem_used_bytes: 5 * 1024 ** 3, gpu_mem_reserved_bytes: 6 * 1024 ** 3 },
      { rank: 2 } as never,  // no numbers: left out
    ],
  };
  const s = summaryOf(r, 1000);
  assert.equal(s.worldSize, 2);
  assert.deepEqual(s.rankMemory, [{ rank: 0, used: 5 * 1024 ** 3, reserved: 6 * 1024 ** 3 }, { rank: 1, used: 5.5 * 1024 ** 3, reserved: 6 * 1024 ** 3 }]);
  assert.equal(ranksText(s), ' · 2 GPUs: rank 0 5.0 GiB, rank 1 5.5 GiB');
  assert.equal(ranksText({ ...s, rankMemory: undefined }), ' · 2 GPUs');  // before the first step
  // one GPU: exactly what the table showed before
  const one = emptyRecord('one', 'engine', { title: 't', argv: [], cwd: '/', env: {} }, 0);
  one.start = { event: 'start', device: { name: 'NVIDIA H100', total_memory_bytes: 80 * 1024 ** 3 } };
  one.lastStep = { event: 'step', step: 1, gpu_mem_used_bytes: 1 };
  const s1 = summaryOf(one, 1000);
  assert.equal(s1.worldSize, undefined);
  assert.equal(s1.rankMemory, undefined);
  assert.equal(ranksText(s1), '');
});
