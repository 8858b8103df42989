// RWKV021: the run's estimated GPU memory (Facts.planMemory) against the GPUs it will use.
import { ok } from '../facts/snapshot';
import type { GpuFacts } from '../facts/facts';
import { effective } from '../parse/resolve';
import type { TrainRun } from '../parse/trainConfig';
import type { Check } from './types';
import { runHead } from './util';

const GB = 1e9;
const NEAR = 0.92;

/** The GPUs a run lands on: CUDA_VISIBLE_DEVICES if set, then the first `devices` of them. */
export function gpusOf(run: TrainRun, gpus: GpuFacts[]): GpuFacts[] {
  let pool = gpus;
  const visible = run.env.CUDA_VISIBLE_DEVICES;
  if (visible !== undefined) {
    const idx = visible.split(',').map((s) => Number(s.trim())).filter((n) => Number.isInteger(n));
    pool = idx.map((i) => gpus.find((g) => g.index === i)).filter((g): g is GpuFacts => !!g);
  }
  const devices = Number(effective(run, 'devices').value) || 1;
  return pool.slice(0, devices);
}

export const check: Check = {
  code: 'RWKV021',
  name: 'gpu-memory',
  docs: {
    what: 'Compares the memory the run needs per GPU (the engine planner\'s estimate from model size, method, ctx_len, micro_bsz, precision, grad_cp) with the smallest GPU it will use.',
    why: 'Running out of memory happens minutes into a run, after loading; the estimate says so before you start.',
    example: '--micro_bsz 32 --ctx_len 4096 --grad_cp 0   # on a 24 GB card',
    fix: 'Lower micro_bsz or ctx_len, turn on --grad_cp 1, or use --quant int8/nf4 for LoRA.',
  },
  checkRun({ run, facts, runIndex }) {
    const plan = ok(facts.runs[runIndex]?.memory);
    const all = facts.gpus?.gpus;
    if (!plan || !all || all.length === 0 || plan.totalBytes <= 0) return [];
    const used = gpusOf(run, all);
    if (!used.length) return [];
    const smallest = used.reduce((a, b) => (b.totalBytes < a.totalBytes ? b : a));
    const need = plan.totalBytes / GB;
    const have = smallest.totalBytes / GB;
    const parts = Object.entries(plan.byCategory).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]).slice(0, 3).map(([k, v]) => `${k} ${(v / GB).toFixed(1)}`).join(', ');
    if (plan.totalBytes > smallest.totalBytes) {
      return [{ code: 'RWKV021', severity: 'error', message: `This run needs about ${need.toFixed(1)} GB per GPU (${parts}), more than GPU ${smallest.index} (${smallest.name}, ${have.toFixed(1)} GB) has. Lower micro_bsz or ctx_len, or set --grad_cp 1.`, span: runHead(run) }];
    }
    if (plan.totalBytes > NEAR * smallest.totalBytes) {
      return [{ code: 'RWKV021', severity: 'warning', message: `This run needs about ${need.toFixed(1)} GB per GPU (${parts}), close to GPU ${smallest.index}'s ${have.toFixed(1)} GB.`, span: runHead(run) }];
    }
    return [];
  },
};
