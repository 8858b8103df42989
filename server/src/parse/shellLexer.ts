// Splits a shell script into simple commands and words the way bash would read them, keeping the
// document offset of every character (see core/span.ts MappedText, kept as runs: core/offsetMap.ts). Never throws: anything it
// cannot model ($(...), `...`, $1, arithmetic) becomes a 'dyn' part whose value is unknown, and
// unterminated quotes are reported as problems. Linear in the input size.
import { OffsetMap } from '../core/offsetMap';
import type { Span } from '../core/span';

export interface LitPart { kind: 'lit'; text: string; map: OffsetMap; quoted: boolean }
export interface VarPart { kind: 'var'; name: string; span: Span; quoted: boolean; fallback?: LitPart; fallbackWhenEmpty?: boolean }
export interface DynPart { kind: 'dyn'; span: Span; quoted: boolean; source: string }
export type WordPart = LitPart | VarPart | DynPart;

export interface Word { parts: WordPart[]; span: Span }
/**
 * `end`: the control operator that ended the command when it was not a newline (`;`, `;;`, `&&`,
 * `|`, `)`, ...), which case arms need. A `;;` with no command before it on its line is an
 * empty command (no words) carrying just that `end`.
 */
export interface Command { words: Word[]; span: Span; end?: string }
export interface LexProblem { span: Span; message: string }
export interface LexResult {
  commands: Command[];
  problems: LexProblem[];
  /**
   * Where lexing can resume: line starts at which the lexer stood between commands with nothing
   * pending (no here-document, no redirection target), flattened as (offset, commands so far,
   * problems so far) triples in offset order. What the lexer produces from such a point on
   * depends only on the text from there (see lexShellFrom and IncrementalLexer).
   */
  resumePoints: number[];
}

/** Lexing state at a resume point: the results before it (arrays that lexing appends to). */
export interface LexStart { offset: number; commands: Command[]; problems: LexProblem[]; resumePoints: number[] }

const NAME_START = /[A-Za-z_]/;
/** Characters with no special meaning, outside quotes and inside double quotes. */
const PLAIN_RUN = /[^ \t\r\n\f\v\\;&|()<>'"$`]+/y;
const QUOTED_RUN = /[^"\\$`]+/y;
const NAME_CHAR = /[A-Za-z0-9_]/;

export function lexShell(text: string): LexResult {
  return lexShellFrom(text, { offset: 0, commands: [], problems: [], resumePoints: [] });
}

/** Lexes text from a resume point of an earlier lexing of a text with the same beginning. */
export function lexShellFrom(text: string, start: LexStart): LexResult {
  const { commands, problems, resumePoints } = start;
  const n = text.length;
  let i = start.offset;
  let words: Word[] = [];
  let parts = null as WordPart[] | null; // (a cast: only closures assign it, which narrowing does not see)
  let wordStart = 0;
  let pendingHeredocs: { delimiter: string; stripTabs: boolean }[] = [];
  let skipNextWord = false; // the target of a redirection is not an argument

  // a word's parts array is created with its first part: most words have one or two parts, and
  // an array literal sized to fit costs less than an empty array grown by push
  const addPart = (part: WordPart, at: number): void => {
    if (!parts) { parts = [part]; wordStart = at; } else parts.push(part);
  };
  const lit = (ch: string, at: number, quoted: boolean): void => {
    const last = parts?.[parts.length - 1];
    if (last && last.kind === 'lit' && last.quoted === quoted) { last.text += ch; last.map.appendRun(at, 1); }
    else addPart({ kind: 'lit', text: ch, map: OffsetMap.contiguous(at, 1), quoted }, at);
  };
  /** Appends text[from, to) as one literal chunk (the common case: no per-character work). */
  const litRun = (from: number, to: number, quoted: boolean): void => {
    const last = parts?.[parts.length - 1];
    if (last && last.kind === 'lit' && last.quoted === quoted) {
      last.text += text.slice(from, to);
      last.map.appendRun(from, to - from);
    } else addPart({ kind: 'lit', text: text.slice(from, to), map: OffsetMap.contiguous(from, to - from), quoted }, from);
  };
  const push = addPart;
  const endWord = (end: number): void => {
    if (!parts) return;
    if (skipNextWord) skipNextWord = false;
    else if (words.length === 0) words = [{ parts, span: { start: wordStart, end } }];
    else words.push({ parts, span: { start: wordStart, end } });
    parts = null;
  };
  const endCommand = (end?: string, at = 0): void => {
    if (words.length > 0) {
      const command: Command = { words, span: { start: words[0]!.span.start, end: words[words.length - 1]!.span.end } };
      if (end) command.end = end;
      commands.push(command);
    } else if (end !== undefined && (end.startsWith(';;') || end === ';&')) {
      commands.push({ words: [], span: { start: at, end: at + end.length }, end });
    }
    words = [];
  };
  const skipHeredocBodies = (): void => {
    // i is at the start of the line after the one that opened the here-documents
    for (const doc of pendingHeredocs) {
      while (i < n) {
        let eol = text.indexOf('\n', i);
        if (eol < 0) eol = n;
        let line = text.slice(i, eol).replace(/\r$/, '');
        if (doc.stripTabs) line = line.replace(/^\t+/, '');
        i = eol + 1;
        if (line === doc.delimiter) break;
      }
    }
    pendingHeredocs = [];
    if (i > n) i = n;
  };

  // $NAME, ${...}, $(...), $((...)), $1, $'...'; i points at '$'
  const dollar = (quoted: boolean): void => {
    const at = i;
    const next = text[i + 1] ?? '';
    if (NAME_START.test(next)) {
      let j = i + 1;
      while (j < n && NAME_CHAR.test(text[j]!)) j++;
      push({ kind: 'var', name: text.slice(i + 1, j), span: { start: at, end: j }, quoted }, at);
      i = j;
      return;
    }
    if (next === '{') {
      const close = matchBrace(text, i + 2);
      const inner = text.slice(i + 2, close < 0 ? n : close);
      const end = close < 0 ? n : close + 1;
      if (close < 0) problems.push({ span: { start: at, end: Math.min(n, at + 2) }, message: 'Unterminated ${...}.' });
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-=])(.*))?$/s.exec(inner);
      if (m) {
        const part: VarPart = { kind: 'var', name: m[1]!, span: { start: at, end }, quoted };
        if (m[3] !== undefined) {
          const fbStart = i + 2 + m[1]!.length + m[2]!.length + 1;
          part.fallback = literalOf(m[4] ?? '', fbStart);
          part.fallbackWhenEmpty = m[2] === ':';
        }
        push(part, at);
      } else {
        push({ kind: 'dyn', span: { start: at, end }, quoted, source: text.slice(at, end) }, at);
      }
      i = end;
      return;
    }
    if (next === '(') {
      const close = matchParen(text, i + 2);
      const end = close < 0 ? n : close + 1;
      if (close < 0) problems.push({ span: { start: at, end: Math.min(n, at + 2) }, message: 'Unterminated $( ... ).' });
      push({ kind: 'dyn', span: { start: at, end }, quoted, source: text.slice(at, end) }, at);
      i = end;
      return;
    }
    if (next !== '' && /[0-9@*#?$!-]/.test(next)) {
      push({ kind: 'dyn', span: { start: at, end: at + 2 }, quoted, source: text.slice(at, at + 2) }, at);
      i += 2;
      return;
    }
    if (next === "'" && !quoted) {
      // ANSI-C quoting: only the escapes people use in scripts
      let j = i + 2;
      if (!parts) { parts = []; wordStart = at; }
      while (j < n && text[j] !== "'") {
        if (text[j] === '\\' && j + 1 < n) {
          const e = text[j + 1]!;
          lit(e === 'n' ? '\n' : e === 't' ? '\t' : e, j, true);
          j += 2;
        } else { lit(text[j]!, j, true); j++; }
      }
      if (j >= n) problems.push({ span: { start: at, end: at + 2 }, message: "Unterminated $'...' quote." });
      i = Math.min(n, j + 1);
      return;
    }
    lit('$', at, quoted);
    i++;
  };

  while (i < n) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v') { endWord(i); i++; continue; }
    if (c === '\n') {
      endWord(i); endCommand(); i++;
      if (pendingHeredocs.length) skipHeredocBodies();
      if (!skipNextWord && i < n) resumePoints.push(i, commands.length, problems.length);
      continue;
    }
    if (c === '#' && !parts) {
      const eol = text.indexOf('\n', i);
      i = eol < 0 ? n : eol;
      continue;
    }
    if (c === '\\') {
      if (text[i + 1] === '\n') { i += 2; continue; }
      if (text[i + 1] === '\r' && text[i + 2] === '\n') { i += 3; continue; }
      if (i + 1 < n) { lit(text[i + 1]!, i + 1, true); i += 2; } else i++;
      continue;
    }
    if (c === ';' || c === '&' || c === '|' || c === '(' || c === ')') {
      if (c === '&' && text[i + 1] === '>') { endWord(i); i += text[i + 2] === '>' ? 3 : 2; skipNextWord = true; continue; }
      endWord(i);
      const opStart = i;
      i++;
      while (i < n && (text[i] === ';' || text[i] === '&' || text[i] === '|')) i++;
      endCommand(text.slice(opStart, i), opStart);
      continue;
    }
    if (c === '<' || c === '>') {
      // a file-descriptor number directly before the operator (2>&1) belongs to the operator
      if (parts && parts.length === 1 && parts[0]!.kind === 'lit' && !parts[0]!.quoted && /^\d+$/.test(parts[0]!.text)) parts = null;
      else endWord(i);
      if (c === '<' && text[i + 1] === '<' && text[i + 2] !== '<') {
        const stripTabs = text[i + 2] === '-';
        let j = i + (stripTabs ? 3 : 2);
        while (j < n && (text[j] === ' ' || text[j] === '\t')) j++;
        let k = j;
        while (k < n && !/[\s;&|<>()]/.test(text[k]!)) k++;
        const delimiter = text.slice(j, k).replace(/['"\\]/g, '');
        if (delimiter) pendingHeredocs.push({ delimiter, stripTabs });
        i = k;
        continue;
      }
      i++;
      while (i < n && (text[i] === '>' || text[i] === '<' || text[i] === '&' || text[i] === '|')) i++;
      if (text[i - 1] === '&' && /[0-9-]/.test(text[i] ?? '')) { while (i < n && /[0-9-]/.test(text[i]!)) i++; continue; }
      skipNextWord = true;
      continue;
    }
    if (c === "'") {
      const close = text.indexOf("'", i + 1);
      const end = close < 0 ? n : close;
      if (close < 0) problems.push({ span: { start: i, end: i + 1 }, message: 'Unterminated single quote: the rest of the file is inside it.' });
      addPart({ kind: 'lit', text: text.slice(i + 1, end), map: OffsetMap.contiguous(i + 1, end - (i + 1)), quoted: true }, i);
      i = close < 0 ? n : close + 1;
      continue;
    }
    if (c === '"') {
      const open = i;
      // an empty "" still makes a word
      addPart({ kind: 'lit', text: '', map: new OffsetMap(), quoted: true }, i);
      i++;
      let closed = false;
      while (i < n) {
        const d = text[i]!;
        if (d === '"') { closed = true; i++; break; }
        if (d === '\\' && i + 1 < n && '$`"\\\n'.includes(text[i + 1]!)) {
          if (text[i + 1] !== '\n') lit(text[i + 1]!, i + 1, true);
          i += 2;
          continue;
        }
        if (d === '$') { dollar(true); continue; }
        if (d === '`') { backtick(true); continue; }
        QUOTED_RUN.lastIndex = i;
        QUOTED_RUN.test(text);
        const end = Math.max(i + 1, QUOTED_RUN.lastIndex);
        litRun(i, end, true);
        i = end;
      }
      if (!closed) problems.push({ span: { start: open, end: open + 1 }, message: 'Unterminated double quote: the rest of the file is inside it.' });
      continue;
    }
    if (c === '$') { dollar(false); continue; }
    if (c === '`') { backtick(false); continue; }
    PLAIN_RUN.lastIndex = i;
    PLAIN_RUN.test(text);
    const end = Math.max(i + 1, PLAIN_RUN.lastIndex);
    litRun(i, end, false);
    i = end;
  }
  endWord(n);
  endCommand();
  return { commands, problems, resumePoints };

  function backtick(quoted: boolean): void {
    const at = i;
    let j = i + 1;
    while (j < n && text[j] !== '`') j += text[j] === '\\' ? 2 : 1;
    if (j >= n) problems.push({ span: { start: at, end: at + 1 }, message: 'Unterminated backquote.' });
    const end = Math.min(n, j + 1);
    push({ kind: 'dyn', span: { start: at, end }, quoted, source: text.slice(at, end) }, at);
    i = end;
  }
}

/** A literal from raw text (a ${VAR:-fallback} fallback): quotes removed, offsets kept. */
function literalOf(raw: string, start: number): LitPart {
  const part: LitPart = { kind: 'lit', text: '', map: new OffsetMap(), quoted: true };
  for (let k = 0; k < raw.length; k++) {
    const ch = raw[k]!;
    if (ch === '"' || ch === "'") continue;
    part.text += ch;
    part.map.appendRun(start + k, 1);
  }
  return part;
}

/** Index of the '}' closing a ${ opened just before `from`, or -1. */
function matchBrace(text: string, from: number): number {
  let depth = 1;
  for (let j = from; j < text.length; j++) {
    const ch = text[j];
    if (ch === '\\') { j++; continue; }
    if (ch === '\n' && depth === 1 && j - from > 4096) return -1;
    if (ch === '{') depth++;
    else if (ch === '}' && --depth === 0) return j;
  }
  return -1;
}

/** Index of the ')' closing a $( opened just before `from`, skipping quoted text, or -1. */
function matchParen(text: string, from: number): number {
  let depth = 1;
  for (let j = from; j < text.length; j++) {
    const ch = text[j];
    if (ch === '\\') { j++; continue; }
    if (ch === "'") { const k = text.indexOf("'", j + 1); if (k < 0) return -1; j = k; continue; }
    if (ch === '(') depth++;
    else if (ch === ')' && --depth === 0) return j;
  }
  return -1;
}
