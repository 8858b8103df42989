// Converts run records and protocol events into what the dashboard draws. Pure (no vscode).
import type { RankMemory, RunSummary, StepPoint } from '../../../webview/src/messages';
import { toCsv } from '../../../webview/src/series';
import type { ProtocolEvent, StepEvent, UnknownEvent } from '../runs/protocol';
import type { RunRecord } from '../runs/runRecord';

export function toPoint(e: StepEvent): StepPoint {
  const p: StepPoint = { step: e.step };
  if (e.loss !== undefined) p.loss = e.loss;
  if (e.lr !== undefined) p.lr = e.lr;
  if (e.tokens !== undefined) p.tokens = e.tokens;
  if (e.real_step !== undefined) p.realStep = e.real_step;
  if (e.tokens_per_s !== undefined) p.tokensPerS = e.tokens_per_s;
  if (e.gpu_mem_used_bytes !== undefined) p.memUsed = e.gpu_mem_used_bytes;
  if (e.gpu_mem_reserved_bytes !== undefined) p.memReserved = e.gpu_mem_reserved_bytes;
  if (e.elapsed_s !== undefined) p.elapsed = e.elapsed_s;
  return p;
}

export function pointsOf(events: readonly (ProtocolEvent | UnknownEvent)[]): StepPoint[] {
  const out: StepPoint[] = [];
  for (const e of events) if (e.event === 'step') out.push(toPoint(e as StepEvent));
  return out;
}

/**
 * What a replay sends to the page: every point up to `maxPoints`, else, per bucket of
 * consecutive points, the first one and those holding the bucket's lowest and highest loss,
 * tokens/s and memory. A 1 M-step run then crosses the webview boundary as ~20 k points
 * instead of 1 M (seconds of serialisation), while the charts, which draw at most a few
 * thousand min/max points, look the same. CSV export uses the full events, not this.
 */
export function thinForReplay(points: readonly StepPoint[], maxPoints = 20_000): StepPoint[] {
  if (points.length <= maxPoints) return [...points];
  const keysPerBucket = 7;  // first + min/max of three metrics
  const bucket = Math.ceil((points.length * keysPerBucket) / maxPoints);
  const metrics = ['loss', 'tokensPerS', 'memUsed'] as const;
  const out: StepPoint[] = [];
  for (let start = 0; start < points.length; start += bucket) {
    const end = Math.min(points.length, start + bucket);
    const keep = new Set<number>([start]);
    for (const m of metrics) {
      let lo = -1, hi = -1;
      for (let i = start; i < end; i++) {
        const v = points[i][m];
        if (v === undefined) continue;
        if (lo < 0 || v < points[lo][m]!) lo = i;
        if (hi < 0 || v > points[hi][m]!) hi = i;
      }
      if (lo >= 0) keep.add(lo).add(hi);
    }
    if (end === points.length) keep.add(end - 1);  // the latest point is always shown
    for (const i of [...keep].sort((a, b) => a - b)) out.push(points[i]);
  }
  return out;
}

/** The CSV export of the shown runs, from their full events (smoothing as the page shows it). */
export function runsCsv(records: readonly RunRecord[], eventsOf: (id: string) => readonly (ProtocolEvent | UnknownEvent)[],
  shown: readonly string[], smoothing: number): string {
  const known = shown.filter((id) => records.some((r) => r.id === id));
  const weight = Number.isFinite(smoothing) ? Math.min(0.999, Math.max(0, smoothing)) : 0;
  const points = Object.fromEntries(known.map((id) => [id, pointsOf(eventsOf(id))]));
  return toCsv(records.map((r) => summaryOf(r)), points, known, weight);
}

const SUMMARY_FLAGS: [string, string][] = [
  ['peft', ''], ['train_type', ''], ['ctx_len', 'ctx '], ['micro_bsz', 'bsz '], ['lr_init', 'lr '], ['epoch_count', 'epochs '], ['precision', ''],
];

/** A short config line from the start event's resolved flags, else from the argv. */
export function configSummary(record: RunRecord): string {
  const config: Record<string, unknown> = { ...(record.start?.config ?? {}) };
  const argv = record.spec.argv;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i].startsWith('--') && i + 1 < argv.length && !(argv[i].slice(2) in config)) config[argv[i].slice(2)] = argv[i + 1];
  }
  const parts: string[] = [];
  for (const [flag, label] of SUMMARY_FLAGS) {
    const v = config[flag];
    if (v === undefined || v === null || v === '' || v === 'none') continue;
    parts.push(`${label}${String(v)}`);
  }
  const model = record.start?.model;
  if (model?.n_layer && model?.n_embd) parts.unshift(`L${model.n_layer} D${model.n_embd}`);
  return parts.join(' · ');
}

/** Every rank's memory from a step event's `ranks` (entries without numbers are left out). */
export function rankMemoryOf(step: StepEvent | undefined): RankMemory[] | undefined {
  if (!Array.isArray(step?.ranks)) return undefined;
  const out: RankMemory[] = [];
  for (const r of step.ranks) {
    if (!r || typeof r.rank !== 'number' || typeof r.gpu_mem_used_bytes !== 'number') continue;
    const m: RankMemory = { rank: r.rank, used: r.gpu_mem_used_bytes };
    if (typeof r.gpu_mem_reserved_bytes === 'number') m.reserved = r.gpu_mem_reserved_bytes;
    out.push(m);
  }
  return out.length ? out.sort((a, b) => a.rank - b.rank) : undefined;
}

export function summaryOf(record: RunRecord, now = Date.now()): RunSummary {
  const end = record.endedAt ?? (record.status === 'running' || record.status === 'stopping' || record.status === 'starting' ? now : undefined);
  const elapsed = record.lastStep?.elapsed_s;
  return {
    id: record.id,
    title: record.spec.title,
    status: record.status,
    source: record.source,
    steps: record.lastStep?.step ?? record.stepCount,
    totalSteps: record.start?.total_steps,
    bestLoss: record.bestLoss,
    lastLoss: record.lastStep?.loss,
    durationS: end !== undefined && record.source === 'engine' ? (end - record.startedAt) / 1000 : elapsed,
    totalMemory: record.start?.device?.total_memory_bytes,
    deviceName: record.start?.device?.name,
    ...(typeof record.start?.world_size === 'number' && record.start.world_size > 1 ? { worldSize: record.start.world_size } : {}),
    ...(rankMemoryOf(record.lastStep) ? { rankMemory: rankMemoryOf(record.lastStep) } : {}),
    config: configSummary(record),
    ...skipped(record),
  };
}

/** The steps the bad-step guard skipped, for the loss chart's marks. */
function skipped(record: RunRecord): { skippedSteps?: number[] } {
  const steps = record.warnings.filter((w) => w.code === 'W_STEP_SKIPPED' && typeof w.step === 'number').map((w) => w.step!);
  return steps.length ? { skippedSteps: steps } : {};
}
