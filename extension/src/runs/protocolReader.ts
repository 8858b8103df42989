// Reads the run protocol from a byte stream that may be split anywhere, may carry garbage
// (a stray print, a progress bar on the wrong stream, a half-written last line) and may come
// from a newer engine. "Parsing never fails": every line becomes either an event or garbage.
import { StringDecoder } from 'node:string_decoder';
import { NUMERIC_FIELDS, type ProtocolEvent, type UnknownEvent } from './protocol';

export type ReadItem =
  | { kind: 'event'; event: ProtocolEvent | UnknownEvent; line: string }
  | { kind: 'garbage'; line: string; reason: string };

/** The longest line kept; a runaway line without newline must not grow memory without bound. */
export const MAX_LINE_CHARS = 1 << 20;

// The step event's numbers, as the schema (engine/core/protocol.schema.json) types them.
const KNOWN_NUMERIC: Record<string, readonly string[]> = { step: NUMERIC_FIELDS.step };

/** Parses one line. Non-JSON, non-objects, objects without a string `event`, and `step` events without a finite step are garbage. */
export function parseProtocolLine(rawLine: string): ReadItem {
  const line = rawLine.replace(/\r$/, '').replace(/^\uFEFF/, '');
  const trimmed = line.trim();
  if (trimmed === '') return { kind: 'garbage', line, reason: 'empty line' };
  if (!trimmed.startsWith('{')) return { kind: 'garbage', line, reason: 'not a JSON object' };
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch {
    // A writer killed mid-line leaves a torn line; the next launch's first event may be glued to
    // it (older engines, other writers). The engine writes `event` first, so that event is
    // recovered and only the torn one is lost.
    const glued = trimmed.lastIndexOf('{"event":');
    if (glued > 0) {
      const rest = parseProtocolLine(trimmed.slice(glued));
      if (rest.kind === 'event') return rest;
    }
    return { kind: 'garbage', line, reason: 'invalid JSON' };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { kind: 'garbage', line, reason: 'not a JSON object' };
  const object = value as Record<string, unknown>;
  if (typeof object.event !== 'string' || object.event === '') return { kind: 'garbage', line, reason: 'no "event" field' };
  const numeric = KNOWN_NUMERIC[object.event];
  if (numeric) {
    // Numbers of the wrong type are dropped (not the whole event): a chart point without `lr`
    // is still a loss point. NaN/Infinity cannot appear in JSON, but strings like "nan" can.
    for (const key of numeric) {
      if (key in object && (typeof object[key] !== 'number' || !Number.isFinite(object[key]))) delete object[key];
    }
    if (typeof object.step !== 'number') return { kind: 'garbage', line, reason: 'step event without a numeric "step"' };
  }
  return { kind: 'event', event: object as unknown as ProtocolEvent, line };
}

/** Feeds chunks (Buffer or string), emits complete lines; `end()` flushes an unterminated last line. */
export class ProtocolReader {
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';
  private overflowing = false;

  constructor(private readonly onItem: (item: ReadItem) => void) {}

  push(chunk: Buffer | string): void {
    const text = typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    let start = 0;
    for (;;) {
      const newline = text.indexOf('\n', start);
      if (newline < 0) break;
      const piece = text.slice(start, newline);
      start = newline + 1;
      if (this.overflowing) {
        this.overflowing = false;
        this.pending = '';
        continue;
      }
      const line = this.pending + piece;
      this.pending = '';
      this.onItem(parseProtocolLine(line));
    }
    if (this.overflowing) return;
    this.pending += text.slice(start);
    if (this.pending.length > MAX_LINE_CHARS) {
      this.onItem({ kind: 'garbage', line: this.pending.slice(0, 200), reason: `line longer than ${MAX_LINE_CHARS} characters (dropped)` });
      this.pending = '';
      this.overflowing = true;
    }
  }

  end(): void {
    const rest = this.pending + this.decoder.end();
    this.pending = '';
    if (!this.overflowing && rest.trim() !== '') this.onItem(parseProtocolLine(rest));
    this.overflowing = false;
  }
}

/** Parses a whole file's text (metrics.jsonl) into events, counting the garbage lines. */
export function parseProtocolText(text: string): { events: (ProtocolEvent | UnknownEvent)[]; garbage: number } {
  const events: (ProtocolEvent | UnknownEvent)[] = [];
  let garbage = 0;
  const reader = new ProtocolReader((item) => {
    if (item.kind === 'event') events.push(item.event);
    else if (item.reason !== 'empty line') garbage++;
  });
  reader.push(text);
  reader.end();
  return { events, garbage };
}
