// Converts run records and protocol events into what the dashboard draws. Pure (no vscode).
import type { RunSummary, StepPoint } from '../../../webview/src/messages';
import type { ProtocolEvent, StepEvent, UnknownEvent } from '../runs/protocol';
import type { RunRecord } from '../runs/runRecord';

export function toPoint(e: StepEvent): StepPoint {
  const p: StepPoint = { step: e.step };
  if (e.loss !== undefined) p.loss = e.loss;
  if (e.lr !== undefined) p.lr = e.lr;
  if (e.tokens !== undefined) p.tokens = e.tokens;
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
    config: configSummary(record),
  };
}
