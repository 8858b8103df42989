// Runs read from files: a finished (or growing) metrics.jsonl written by our engine, and
// RWKV-PEFT's proj_dir/loss_data.jsonl ({loss, t_cost, kt_s} one line a step, FACTS.md), which
// is turned into protocol step events so the dashboard charts Python runs the same way.
import { closeSync, existsSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { applyEvent } from './applyEvent';
import type { ProtocolEvent, StepEvent, UnknownEvent } from './protocol';
import { parseProtocolLine, ProtocolReader } from './protocolReader';
import { emptyRecord, newRunId, type RunRecord, type RunSource } from './runRecord';

export type FileKind = 'metrics' | 'peft-loss';

export function fileKindOf(path: string): FileKind {
  return basename(path) === 'loss_data.jsonl' ? 'peft-loss' : 'metrics';
}

/** Converts RWKV-PEFT's loss_data.jsonl lines into step events; keeps a running clock and step. */
export class PeftLossConverter {
  private step = 0;
  private elapsed = 0;

  convert(line: string): StepEvent | undefined {
    const trimmed = line.trim();
    if (!trimmed.startsWith('{')) return undefined;
    let value: unknown;
    try { value = JSON.parse(trimmed); } catch { return undefined; }
    if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
    const o = value as Record<string, unknown>;
    if (typeof o.loss !== 'number' || !Number.isFinite(o.loss)) return undefined;
    this.step++;
    const tCost = typeof o.t_cost === 'number' && Number.isFinite(o.t_cost) ? o.t_cost : undefined;
    if (tCost !== undefined) this.elapsed += tCost;
    const event: StepEvent = { event: 'step', v: 1, step: this.step, loss: o.loss };
    if (tCost !== undefined) event.elapsed_s = this.elapsed;
    // kt_s is thousands of tokens a second.
    if (typeof o.kt_s === 'number' && Number.isFinite(o.kt_s)) event.tokens_per_s = o.kt_s * 1000;
    return event;
  }
}

function recordFor(path: string, kind: FileKind): RunRecord {
  const source: RunSource = kind === 'peft-loss' ? 'peft-loss-log' : 'metrics-file';
  const dir = dirname(path);
  const record = emptyRecord(newRunId(), source, { title: `${basename(dir)}/${basename(path)}`, argv: [], cwd: dir, env: {} });
  record.sourceFile = path;
  return record;
}

/** Reads a whole file into a record and its events. Throws only when the file cannot be read. */
export function readRunFile(path: string, text: string): { record: RunRecord; events: (ProtocolEvent | UnknownEvent)[] } {
  const kind = fileKindOf(path);
  const record = recordFor(path, kind);
  const events: (ProtocolEvent | UnknownEvent)[] = [];
  const converter = new PeftLossConverter();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const event = kind === 'peft-loss' ? converter.convert(line) : (() => { const item = parseProtocolLine(line); return item.kind === 'event' ? item.event : undefined; })();
    if (!event) { record.garbageLines++; continue; }
    events.push(event);
    applyEvent(record, event);
  }
  const firstTime = events.find((e) => typeof e.time === 'number')?.time;
  if (typeof firstTime === 'number') record.startedAt = firstTime * 1000;
  else { try { record.startedAt = statSync(path).mtimeMs; } catch { /* keep now */ } }
  if (record.status === 'starting' || record.status === 'running') record.status = kind === 'peft-loss' ? 'running' : 'stopped';
  if (kind === 'metrics' && !events.some((e) => e.event === 'end')) record.status = 'crashed';
  return { record, events };
}

/**
 * Follows a growing file (tail -f): polls its size, reads what was appended, splits lines.
 * Polling (not fs.watch) because training folders are often on network file systems.
 */
export class FileFollower {
  private offset = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly reader: ProtocolReader | undefined;
  private readonly converter = new PeftLossConverter();
  private pendingPeft = '';

  constructor(
    readonly path: string,
    private readonly onEvent: (event: ProtocolEvent | UnknownEvent) => void,
    private readonly intervalMs = 500,
  ) {
    if (fileKindOf(path) === 'metrics') {
      this.reader = new ProtocolReader((item) => { if (item.kind === 'event') this.onEvent(item.event); });
    }
  }

  start(): void {
    this.poll();
    this.timer = setInterval(() => this.poll(), this.intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Reads whatever was appended since the last poll. Public for tests. */
  poll(): void {
    if (!existsSync(this.path)) return;
    let fd: number | undefined;
    try {
      fd = openSync(this.path, 'r');
      const size = fstatSync(fd).size;
      if (size < this.offset) this.offset = 0; // truncated or replaced: start over
      while (this.offset < size) {
        const buffer = Buffer.alloc(Math.min(1 << 20, size - this.offset));
        const n = readSync(fd, buffer, 0, buffer.length, this.offset);
        if (n <= 0) break;
        this.offset += n;
        this.feed(buffer.subarray(0, n));
      }
    } catch {
      /* the file may vanish between polls; try again next time */
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  private feed(chunk: Buffer): void {
    if (this.reader) { this.reader.push(chunk); return; }
    this.pendingPeft += chunk.toString('utf8');
    const lines = this.pendingPeft.split('\n');
    this.pendingPeft = lines.pop() ?? '';
    for (const line of lines) {
      const event = this.converter.convert(line);
      if (event) this.onEvent(event);
    }
  }
}
