// Source positions in the checks' own terms: character offsets into the document text. Only the
// LSP layer turns them into line/column (ARCHITECTURE.md: checks never see LSP types).
import type { OffsetMap } from './offsetMap';

export interface Span { start: number; end: number }

export function span(start: number, end: number): Span { return { start, end }; }

/** The smallest span covering both. */
export function cover(a: Span, b: Span): Span {
  return { start: Math.min(a.start, b.start), end: Math.max(a.end, b.end) };
}

/**
 * A piece of text produced from the document (a literal, an expanded variable, a JSON key), with
 * the document offset of each of its characters (-1 where a character has no source, e.g. it came
 * from outside the file). Lets a diagnostic on a sub-range of an expanded value point back into
 * the document exactly, also through variable expansion.
 */
export interface MappedText { text: string; map: OffsetMap }

/** The document span behind text[from, to), or undefined when those characters have no source. */
export function spanOf(m: MappedText, from = 0, to = m.text.length): Span | undefined {
  return m.map.span(from, to);
}

/** Line (0-based) of an offset, for tests and messages. */
export function lineOf(text: string, offset: number): number {
  let line = 0;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** Offsets of line starts, for many offset → line lookups in O(log n) each. */
export class LineIndex {
  private readonly starts: number[] = [0];
  constructor(text: string) {
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) this.starts.push(i + 1);
  }
  line(offset: number): number {
    let lo = 0, hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= offset) lo = mid; else hi = mid - 1;
    }
    return lo;
  }
}
