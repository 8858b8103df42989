// Tokens/s for a run on a GPU: the user's own probe of that run where one is cached, else the
// fitted model of the GPU's class (throughput.json), else the model scaled by the user's probes
// of other runs on that GPU. Where none applies there is no figure: a guess for an unmeasured
// GPU would read as a measurement.
import model from './throughput.json';
import { tokensPerSecond, type StepConfig } from './throughputFit';

/** A `probe` event of `rwkv-train probe` (engine/core/protocol.schema.json), as the extension caches it. */
export interface ProbeRecord {
  tokens_per_s: number;
  time: number;
  device: { backend: string; name: string };
  config: { n_layer: number; n_embd: number; ctx_len: number; micro_bsz: number; accumulate_grad_batches: number; peft: string; grad_cp: number };
  params: { trainable: number; total: number };
}

/** What a run is, for the model and for matching probes. */
export interface RunShape extends StepConfig { peft: string; gradCp: number }

export type Basis =
  | { kind: 'probe'; probe: ProbeRecord }
  | { kind: 'model'; gpuClass: string; rows: number }
  | { kind: 'scaled'; gpuClass: string; probes: number; scale: number };

export interface Throughput { tokensPerS: number; basis: Basis }

interface ClassModel { match: string; gradCp: number; coefficients: number[]; measurements: unknown[] }
const CLASSES = model.classes as Record<string, ClassModel>;

export function gpuClass(gpuName: string): string | undefined {
  return Object.entries(CLASSES).find(([, c]) => gpuName.toUpperCase().includes(c.match.toUpperCase()))?.[0];
}

function probeShape(p: ProbeRecord): RunShape {
  const c = p.config;
  return {
    nLayer: c.n_layer, nEmbd: c.n_embd, ctxLen: c.ctx_len, microBsz: c.micro_bsz,
    totalParams: p.params.total, trainableParams: p.params.trainable,
    adapter: ['lora', 'pissa', 'miss'].includes(c.peft), peft: c.peft, gradCp: c.grad_cp,
  };
}

/** The same run: every figure that changes the step's work. */
export function sameRun(p: ProbeRecord, r: RunShape): boolean {
  const c = p.config;
  return c.n_layer === r.nLayer && c.n_embd === r.nEmbd && c.ctx_len === r.ctxLen && c.micro_bsz === r.microBsz &&
    c.peft === r.peft && c.grad_cp === r.gradCp && p.params.trainable === r.trainableParams;
}

export function estimateThroughput(gpuName: string, run: RunShape, probes: ProbeRecord[]): Throughput | undefined {
  const mine = probes.filter((p) => p.device.name === gpuName && p.tokens_per_s > 0);
  const exact = mine.filter((p) => sameRun(p, run)).sort((a, b) => b.time - a.time)[0];
  if (exact) return { tokensPerS: exact.tokens_per_s, basis: { kind: 'probe', probe: exact } };
  const cls = gpuClass(gpuName);
  if (cls) {
    const c = CLASSES[cls];
    return { tokensPerS: tokensPerSecond(c.coefficients, run), basis: { kind: 'model', gpuClass: cls, rows: c.measurements.length } };
  }
  if (!mine.length) return undefined;
  // another GPU: the H100 model's shape, scaled by what this GPU measured (median ratio)
  const ref = Object.keys(CLASSES)[0];
  const coefficients = CLASSES[ref].coefficients;
  const ratios = mine.map((p) => p.tokens_per_s / tokensPerSecond(coefficients, probeShape(p))).filter((x) => Number.isFinite(x) && x > 0).sort((a, b) => a - b);
  if (!ratios.length) return undefined;
  const scale = ratios[Math.floor(ratios.length / 2)];
  return { tokensPerS: tokensPerSecond(coefficients, run) * scale, basis: { kind: 'scaled', gpuClass: ref, probes: ratios.length, scale } };
}

export const MODEL_PROVENANCE = model.provenance;
