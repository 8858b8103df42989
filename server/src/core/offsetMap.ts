// Where each character of a derived text (a lexed literal, an expanded variable, a JSON key) came
// from in the document, stored as runs instead of one number per character. A word typed in one
// piece is one run however long it is, and an expansion through a variable adds one run per
// piece, so a 200-line script costs a few hundred small runs per edit instead of arrays of ten
// thousand numbers (the per-character arrays were most of the allocation, and so of the GC
// pauses, behind the diagnostics latency).
import type { Span } from './span';

/**
 * The document offset of each character of a text of `length` characters, as runs: a run starting
 * at text index t with document offset d maps character i to d + (i - t), or to -1 (no source,
 * e.g. `$(...)` output or JSON rebuilt from YAML) when d is -1. The first run (text index 0) is
 * kept in a field and only further runs in an array, so the common one-run map is one small
 * object.
 *
 * Built by appending (append*, only while the text it describes is being built); treated as
 * immutable once handed out: slice/concat return new maps.
 */
export class OffsetMap {
  length = 0;
  /** Document offset of the first run (-1: no source). */
  private doc0 = -1;
  /** Runs after the first, flattened: text index, document offset, text index, ... */
  private more: number[] | null = null;

  /** text[i] is at document offset start + i. */
  static contiguous(start: number, length: number): OffsetMap {
    return new OffsetMap().appendRun(start, length);
  }

  /** No character has a document offset. */
  static unknown(length: number): OffsetMap {
    return new OffsetMap().appendRun(-1, length);
  }

  /** Number of runs. */
  get runs(): number { return this.length === 0 ? 0 : 1 + (this.more ? this.more.length >> 1 : 0); }
  /** Text index where run k starts. */
  private startOf(k: number): number { return k === 0 ? 0 : this.more![2 * k - 2]!; }
  /** Document offset of run k's first character (-1: no source). */
  private docOf(k: number): number { return k === 0 ? this.doc0 : this.more![2 * k - 1]!; }
  /** Text index where run k ends. */
  private endOf(k: number): number { return k + 1 < this.runs ? this.startOf(k + 1) : this.length; }

  /** Appends `length` characters at document offsets doc, doc+1, ... (doc -1: no source). */
  appendRun(doc: number, length: number): this {
    if (length <= 0) return this;
    if (doc < 0) doc = -1;
    if (this.length === 0) {
      this.doc0 = doc;
      this.length = length;
      return this;
    }
    // extend the last run when the new characters continue it (typed in one piece)
    const k = this.runs - 1;
    const last = this.docOf(k);
    if (last < 0 ? doc < 0 : doc === last + (this.length - this.startOf(k))) {
      this.length += length;
      return this;
    }
    (this.more ??= []).push(this.length, doc);
    this.length += length;
    return this;
  }

  /** Appends the characters [from, to) of another map. */
  appendMap(other: OffsetMap, from = 0, to = other.length): this {
    if (to > other.length) to = other.length;
    if (from < 0) from = 0;
    if (from >= to) return this;
    const runs = other.runs;
    for (let k = other.runAt(from), i = from; i < to; k++) {
      const runEnd = k + 1 < runs ? Math.min(other.startOf(k + 1), to) : to;
      const doc = other.docOf(k);
      this.appendRun(doc < 0 ? -1 : doc + (i - other.startOf(k)), runEnd - i);
      i = runEnd;
    }
    return this;
  }

  /** Document offset of text[i], or -1 (no source, or out of range). */
  at(i: number): number {
    if (i < 0 || i >= this.length) return -1;
    const k = this.runAt(i);
    const doc = this.docOf(k);
    return doc < 0 ? -1 : doc + (i - this.startOf(k));
  }

  /** The text index of the character at document offset `doc` (the first, if several come from it), or -1 when none does. */
  indexOf(doc: number): number {
    if (doc < 0) return -1;
    for (let k = 0; k < this.runs; k++) {
      const d = this.docOf(k);
      if (d >= 0 && doc >= d && doc < d + (this.endOf(k) - this.startOf(k))) return this.startOf(k) + (doc - d);
    }
    return -1;
  }

  /** The characters [from, to) as a map of their own. */
  slice(from = 0, to = this.length): OffsetMap {
    return new OffsetMap().appendMap(this, from, to);
  }

  /** This map followed by another. */
  concat(other: OffsetMap): OffsetMap {
    return new OffsetMap().appendMap(this).appendMap(other);
  }

  /** The smallest document span covering the known characters of [from, to), or undefined when none has a source. */
  span(from = 0, to = this.length): Span | undefined {
    if (to > this.length) to = this.length;
    if (from < 0) from = 0;
    if (from >= to) return undefined;
    let start = -1;
    let end = -1;
    const runs = this.runs;
    for (let k = this.runAt(from); k < runs && this.startOf(k) < to; k++) {
      const doc = this.docOf(k);
      if (doc < 0) continue;
      const t = this.startOf(k);
      const s = doc + (Math.max(from, t) - t);
      const e = doc + (Math.min(to, this.endOf(k)) - t);
      if (start < 0 || s < start) start = s;
      if (e > end) end = e;
    }
    return start < 0 ? undefined : { start, end };
  }

  /** Whether some character has no source. */
  hasUnknown(): boolean {
    for (let k = 0; k < this.runs; k++) if (this.docOf(k) < 0) return true;
    return false;
  }

  /** Whether some character's document offset lies in [s.start, s.end). */
  touches(s: Span): boolean {
    for (let k = 0; k < this.runs; k++) {
      const doc = this.docOf(k);
      if (doc >= 0 && doc < s.end && doc + (this.endOf(k) - this.startOf(k)) > s.start) return true;
    }
    return false;
  }

  /** Every document offset in text order (-1 for none), for tests and debugging. */
  toArray(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.length; i++) out.push(this.at(i));
    return out;
  }

  /** Index of the run holding text index i (0 <= i < length). */
  private runAt(i: number): number {
    const more = this.more;
    if (!more || i < more[0]!) return 0;
    let lo = 1;
    let hi = more.length >> 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (more[2 * mid - 2]! <= i) lo = mid; else hi = mid - 1;
    }
    return lo;
  }
}
