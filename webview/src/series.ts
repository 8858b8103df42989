// Pure data helpers of the dashboard (no DOM): x axis choice, loss smoothing, CSV export.
import type { RunSummary, StepPoint } from './messages';

export type XAxis = 'step' | 'realStep' | 'tokens' | 'time';

export function xOf(p: StepPoint, axis: XAxis): number | undefined {
  if (axis === 'step') return p.step;
  if (axis === 'realStep') return p.realStep;
  if (axis === 'tokens') return p.tokens;
  return p.elapsed;
}

/**
 * Exponential moving average with bias correction (as TensorBoard smooths): early points are
 * not pulled towards 0. weight 0 = raw; 0.99 = very smooth. State is kept so live points
 * extend the curve without recomputing it. `steps` is how many steps the value stands for
 * (the gap since the previous point): a long run's replay is thinned before it reaches the
 * page, and weighting by the gap keeps its curve close to the full run's (gap 1 is the
 * ordinary per-point EMA).
 */
export class Smoother {
  private last = 0;
  private count = 0;
  constructor(readonly weight: number) {}
  next(value: number, steps = 1): number {
    const n = Math.max(1, steps);
    this.count += n;
    const decay = Math.pow(this.weight, n);
    this.last = this.last * decay + (1 - decay) * value;
    const debias = 1 - Math.pow(this.weight, this.count);
    return debias > 0 ? this.last / debias : value;
  }
}

export function smooth(values: readonly number[], weight: number): number[] {
  const s = new Smoother(weight);
  return values.map((v) => s.next(v));
}

/** Steps between a point and the one before it (1 for the first), for Smoother.next. */
export function stepGap(p: StepPoint, previous: StepPoint | undefined): number {
  return previous ? Math.max(1, p.step - previous.step) : 1;
}

const CSV_COLUMNS = ['run', 'title', 'step', 'real_step', 'tokens', 'elapsed_s', 'loss', 'loss_smoothed', 'lr', 'tokens_per_s', 'gpu_mem_used_bytes', 'gpu_mem_reserved_bytes'] as const;

function csvCell(v: unknown): string {
  if (v === undefined || v === null) return '';
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(runs: readonly RunSummary[], points: Record<string, readonly StepPoint[]>, shown: readonly string[], weight: number): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const id of shown) {
    const run = runs.find((r) => r.id === id);
    const s = new Smoother(weight);
    let previous: StepPoint | undefined;
    for (const p of points[id] ?? []) {
      const smoothed = p.loss === undefined ? undefined : s.next(p.loss, stepGap(p, previous));
      if (p.loss !== undefined) previous = p;
      lines.push([id, run?.title, p.step, p.realStep, p.tokens, p.elapsed, p.loss, smoothed, p.lr, p.tokensPerS, p.memUsed, p.memReserved].map(csvCell).join(','));
    }
  }
  return lines.join('\n') + '\n';
}

export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined) return '';
  const gib = bytes / 1024 ** 3;
  return gib >= 1 ? `${gib.toFixed(1)} GiB` : `${(bytes / 1024 ** 2).toFixed(0)} MiB`;
}

export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return h ? `${h}h ${String(m).padStart(2, '0')}m` : m ? `${m}m ${String(r).padStart(2, '0')}s` : `${r}s`;
}

export function formatNumber(v: number | undefined, digits = 4): string {
  if (v === undefined || !Number.isFinite(v)) return '';
  if (v !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e6)) return v.toExponential(2);
  return Number(v.toPrecision(digits)).toString();
}
