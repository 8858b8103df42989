// The lens above a train.py call: memory against the GPU that will run it, time to finish, and
// steps × tokens as the trainer runs them; plus the plain-text explanation its hover shows.
// Pure: everything comes from the facts snapshot (planner, schedule, GPUs) and the estimate
// context (the target GPU setting, cached probes).
import { gpusOf } from '../checks/rwkv021GpuMemory';
import type { GpuFacts, MemoryPlan } from '../facts/facts';
import { ok, type RunFacts } from '../facts/snapshot';
import { effective } from '../parse/resolve';
import type { TrainRun } from '../parse/trainConfig';
import { MODEL_PROVENANCE, estimateThroughput, type ProbeRecord, type RunShape, type Throughput } from './throughputModel';

/** Set by the client (`rwkv/estimateContext`): the GPU runs go to where none is detected, and cached probes. */
export interface EstimateContext {
  targetGpu?: { name: string; totalBytes: number };
  probes: ProbeRecord[];
}

export interface LensFigures { title: string; tooltip: string }

const GB = 1e9;
const ADAPTERS = new Set(['lora', 'pissa', 'miss', 'bone', 'disha']);

function gb(bytes: number): string {
  const v = bytes / GB;
  return v >= 100 ? v.toFixed(0) : v.toFixed(1);
}

export function count(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  if (seconds < 60) return '< 1 min';
  const min = Math.round(seconds / 60);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60), m = min % 60;
  if (h < 48) return m ? `${h} h ${m} min` : `${h} h`;
  const d = Math.floor(h / 24), hh = h % 24;
  return hh ? `${d} d ${hh} h` : `${d} d`;
}

/** The GPU a run lands on: detected (CUDA_VISIBLE_DEVICES, devices), else the setting. */
function targetOf(run: TrainRun, gpus: GpuFacts[] | undefined, ctx: EstimateContext): { name: string; totalBytes: number; from: string } | undefined {
  const used = gpus?.length ? gpusOf(run, gpus) : [];
  if (used.length) {
    const g = used.reduce((a, b) => (b.totalBytes < a.totalBytes ? b : a));
    return { name: g.name, totalBytes: g.totalBytes, from: `detected, GPU ${g.index}` };
  }
  if (ctx.targetGpu?.name) return { ...ctx.targetGpu, from: 'the rwkvStudio.targetGpu setting' };
  return undefined;
}

function enginePlan(plan: MemoryPlan | undefined): { engine?: MemoryPlan; reference?: MemoryPlan } {
  if (!plan) return {};
  const both = [plan, ...(plan.other ? [plan.other] : [])];
  return { engine: both.find((p) => p.stack === 'engine') ?? (plan.stack ? undefined : plan), reference: both.find((p) => p.stack === 'reference') };
}

function basisText(t: Throughput): string {
  const b = t.basis;
  if (b.kind === 'probe') return `measured by rwkv-train probe of this run on ${b.probe.device.name} (${new Date(b.probe.time * 1000).toISOString().slice(0, 16).replace('T', ' ')})`;
  if (b.kind === 'model') return `the ${b.gpuClass} model fitted to ${b.rows} runs measured there (${MODEL_PROVENANCE.source}; every one within 5%)`;
  return `the ${b.gpuClass} model scaled ×${b.scale.toFixed(2)} by your ${b.probes} probe(s) on this GPU`;
}

export function lensFigures(run: TrainRun, rf: RunFacts | undefined, gpus: GpuFacts[] | undefined, ctx: EstimateContext): LensFigures | undefined {
  const schedule = ok(rf?.schedule);
  const { engine, reference } = enginePlan(ok(rf?.memory));
  if (!schedule && !engine) return undefined;
  const cpu = String(effective(run, 'accelerator').value) === 'cpu';
  const gpu = cpu ? undefined : targetOf(run, gpus, ctx);
  const title: string[] = [];
  const tip: string[] = [];

  if (engine) {
    title.push(gpu ? `≈ ${gb(engine.totalBytes)} of ${gb(gpu.totalBytes)} GB` : `≈ ${gb(engine.totalBytes)} GB`);
    const parts = Object.entries(engine.byCategory).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]).slice(0, 4).map(([k, v]) => `${k} ${gb(v)}`).join(', ');
    tip.push(`Memory: ≈ ${gb(engine.totalBytes)} GB per GPU for Run Training (the engine planner: ${parts}).` +
      (reference ? ` The same script under RWKV-PEFT/RWKV-LM on PyTorch: ≈ ${gb(reference.totalBytes)} GB.` : ''));
    if (cpu) tip.push('The run trains on the CPU (--accelerator cpu).');
    else tip.push(gpu ? `GPU: ${gpu.name}, ${gb(gpu.totalBytes)} GB (${gpu.from}).` : 'GPU: none detected; set rwkvStudio.targetGpu to compare with the GPU the run will use.');
  }

  let throughput: Throughput | undefined;
  if (schedule && !schedule.untilStopped) {
    const deviceName = cpu ? 'CPU' : gpu?.name;
    const nLayer = Number(effective(run, 'n_layer').value), nEmbd = Number(effective(run, 'n_embd').value);
    const plan = ok(rf?.memory);
    const peft = String(effective(run, 'peft').value);
    const shape: RunShape = {
      nLayer, nEmbd, ctxLen: schedule.ctxLen, microBsz: schedule.microBsz,
      totalParams: plan?.totalParams ?? 0, trainableParams: plan?.trainableParams ?? 0,
      adapter: ADAPTERS.has(peft), peft: peft === 'bone' || peft === 'disha' ? 'miss' : peft,
      gradCp: effective(run, 'grad_cp').value === true || Number(effective(run, 'grad_cp').value) === 1 ? 1 : 0,
    };
    if (deviceName && shape.totalParams > 0) throughput = estimateThroughput(deviceName, shape, ctx.probes);
    if (throughput && throughput.tokensPerS > 0) {
      const seconds = schedule.totalTokens / throughput.tokensPerS;
      const d = duration(seconds);
      title.push(d.startsWith('<') ? d : `≈ ${d}`);
      tip.push(`Time: ≈ ${duration(seconds)} for ${count(schedule.totalTokens)} tokens at ≈ ${count(throughput.tokensPerS)} tokens/s: ${basisText(throughput)}. Training steps only: loading the model and saving checkpoints come on top.` +
        (throughput.basis.kind !== 'probe' && shape.gradCp === 0 ? ' The model was measured with --grad_cp 1; grad_cp 0 skips the re-run forward and is faster.' : ''));
    } else {
      title.push('time: probe');
      tip.push(deviceName
        ? `Time: no measured figures for ${deviceName} yet. Click to time a few steps of this run there (rwkv-train probe); the result is kept for this lens.`
        : 'Time: no GPU is known for this run (set rwkvStudio.targetGpu, or run the probe on the GPU machine).');
    }
  }

  if (schedule) {
    const steps = schedule.untilStopped ? 'until stopped' : `${schedule.documentsKnown ? '' : '≤ '}${count(schedule.totalSteps)} steps`;
    title.push(`${steps} × ${count(schedule.tokensPerStep)} tokens`);
    const e = schedule.epoch;
    const acc = schedule.accumulate > 1 ? `, the optimizer stepping every ${schedule.accumulate}` : '';
    if (schedule.untilStopped) {
      tip.push(`Steps: RWKV-LM with --my_exit_tokens 0 trains until stopped, ${count(schedule.tokensPerStep)} tokens an optimizer step.`);
    } else if (e.onePass) {
      const last = e.lastBatchRows !== schedule.microBsz ? `, the last of ${e.lastBatchRows}` : '';
      tip.push(`Steps: ${count(schedule.totalSteps)} optimizer steps = ${count(schedule.epochCount)} epochs × ${count(e.optimizerSteps)}, as the newest RWKV-PEFT runs a --peft_config script: an epoch is one shuffled pass over ${count(e.pool)} documents (at most epoch_steps) in ${count(e.microBatches)} micro-batches of ${schedule.microBsz}${last}${acc}.` +
        (schedule.documentsKnown ? '' : ' The data could not be counted, so a full pool of epoch_steps documents is assumed.'));
    } else {
      tip.push(`Steps: ${count(schedule.totalSteps)} optimizer steps = ${schedule.epochCount ? `${count(schedule.epochCount)} epochs × ` : ''}${count(e.optimizerSteps)} (epoch_steps ${count(e.microBatches)} micro-batches of ${schedule.microBsz}${acc}); ${count(schedule.tokensPerStep)} tokens a step (ctx_len ${schedule.ctxLen} × micro_bsz ${schedule.microBsz}${schedule.accumulate > 1 ? ` × ${schedule.accumulate}` : ''}).`);
    }
  }
  tip.push('Click to time this run on this machine (rwkv-train probe, a few steps, no file written).');
  return { title: title.join(' · '), tooltip: tip.join('\n') };
}
