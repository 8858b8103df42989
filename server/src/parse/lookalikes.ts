// Characters that look like shell syntax but are not to bash: typographic quotes (pasted from a
// word processor or a rendered web page) stay inside the word, and non-breaking or other Unicode
// spaces do not split words (bash splits only at space, tab and newline). One place, so the flag
// and value checks name the same characters the same way.
import { spanOf, type MappedText, type Span } from '../core/span';

const QUOTES: Record<string, string> = { '\u201c': '"', '\u201d': '"', '\u201e': '"', '\u2018': "'", '\u2019': "'", '\u00ab': '"', '\u00bb': '"' };
const SPACES = /[\u00a0\u1680\u2000-\u200b\u202f\u205f\u3000]/;
/** Any character of QUOTES or SPACES. */
const ANY = new RegExp(`[${Object.keys(QUOTES).join('')}${SPACES.source.slice(1, -1)}]`);
const NONE = Object.freeze([]) as unknown as Lookalike[];

export interface Lookalike { char: string; offset: number; span?: Span; kind: 'quote' | 'space'; plain: string }

/** Every typographic quote and Unicode space in the text, with its document span where it has one. */
export function lookalikes(m: MappedText): Lookalike[] {
  // nearly every word has none: one native scan instead of a test per character
  if (!ANY.test(m.text)) return NONE;
  const out: Lookalike[] = [];
  for (let i = 0; i < m.text.length; i++) {
    const c = m.text[i]!;
    const q = QUOTES[c];
    if (q !== undefined) out.push({ char: c, offset: i, span: spanOf(m, i, i + 1), kind: 'quote', plain: q });
    else if (SPACES.test(c)) out.push({ char: c, offset: i, span: spanOf(m, i, i + 1), kind: 'space', plain: ' ' });
  }
  return out;
}

/** "U+00A0 (a non-breaking space)" */
export function describe(l: Lookalike): string {
  const code = `U+${l.char.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
  if (l.kind === 'quote') return `the typographic quote ${l.char} (${code})`;
  return `${code} (${l.char === '\u00a0' || l.char === '\u202f' ? 'a non-breaking space' : 'a Unicode space'})`;
}

/** Edits turning each look-alike with a span into its plain ASCII counterpart. */
export function plainEdits(ls: Lookalike[]): { span: Span; newText: string }[] {
  return ls.filter((l) => l.span && l.span.end - l.span.start === 1).map((l) => ({ span: l.span!, newText: l.plain }));
}
