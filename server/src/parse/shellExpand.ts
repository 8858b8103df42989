// Variable expansion with bash's rules for what people write in training scripts: assignments
// expand at assignment time, unquoted expansions are split on whitespace, quoted ones are not,
// ${VAR:-fallback} works, and every character keeps its document offset (through the variable's
// assignment), so a problem in `$n_layer` is reported where n_layer was set.
import { OffsetMap } from '../core/offsetMap';
import type { Span } from '../core/span';
import type { LitPart, Word } from './shellLexer';
import type { Value, VariableUse } from './trainConfig';

export interface ShellVariable {
  name: string;
  text: string;
  map: OffsetMap;
  nameSpan: Span;
  /** Span of the assigned value in the document. */
  valueSpan: Span;
  exported: boolean;
  dynamic: boolean;
  unresolved: string[];
  via: VariableUse[];
}

export type Scope = Map<string, ShellVariable>;

/** The via/unresolved of a literal value: one shared, frozen empty array (values are never mutated). */
const NONE = Object.freeze([]) as readonly never[] as never[];

interface Acc { text: string; map: OffsetMap; dynamic: boolean; started: boolean; via: VariableUse[]; unresolved: string[] }
const fresh = (): Acc => ({ text: '', map: new OffsetMap(), dynamic: false, started: false, via: [], unresolved: [] });

/**
 * Expands a word into the fields bash would pass as arguments, appended to `fields` (returned).
 * `split` false treats the whole word as quoted (assignment right-hand sides); `skipChars` drops
 * the word's first characters (an assignment's `NAME=`).
 */
export function expandWord(word: Word, scope: Scope, split = true, skipChars = 0, fields: Value[] = []): Value[] {
  // Most words are literals (--n_layer, 2e-5, NAME="value") or one variable ($n_layer,
  // "$peft_config"): they take the short paths below, which build no accumulator.
  if (!expandLiteralWord(word, split, skipChars, fields) && !expandVariableWord(word, scope, split, skipChars, fields)) expandAnyWord(word, scope, split, skipChars, fields);
  return fields;
}

/** The general case (kept apart: its closure would otherwise cost every call a context). */
function expandAnyWord(word: Word, scope: Scope, split: boolean, skipChars: number, fields: Value[]): void {
  let acc = fresh();
  const finish = (): void => {
    if (acc.started) fields.push(toValue(acc, word.span));
    acc = fresh();
  };
  let skip = skipChars;
  for (const part of word.parts) {
    if (part.kind === 'lit') {
      const from = Math.min(skip, part.text.length);
      skip -= from;
      if (part.quoted || !split || from < part.text.length) {
        // unquoted literal whitespace never appears (the lexer splits on it), but escaped
        // characters arrive as quoted parts, so this is plain text; an empty quoted part ("")
        // still starts a field
        acc.text += from ? part.text.slice(from) : part.text;
        acc.map.appendMap(part.map, from);
        acc.started = true;
      }
      continue;
    }
    if (part.kind === 'dyn') {
      acc.dynamic = true;
      acc.started = true;
      acc.text += part.source;
      acc.map.appendRun(-1, part.source.length);
      continue;
    }
    const v = scope.get(part.name);
    const useSpan = part.span;
    let text: string;
    let map: OffsetMap;
    if (v && !(part.fallbackWhenEmpty && v.text === '' && part.fallback)) {
      addVia(acc, { name: part.name, useSpan, assignSpan: v.valueSpan });
      for (const u of v.via) acc.via.push(u);
      if (v.dynamic) acc.dynamic = true;
      for (const u of v.unresolved) acc.unresolved.push(u);
      text = v.text; map = v.map;
    } else if (part.fallback) {
      addVia(acc, { name: part.name, useSpan });
      text = part.fallback.text; map = part.fallback.map;
    } else {
      addVia(acc, { name: part.name, useSpan });
      acc.unresolved.push(part.name);
      acc.dynamic = true;
      acc.started = true;
      const shown = '$' + part.name;
      acc.text += shown;
      acc.map.appendRun(-1, shown.length);
      continue;
    }
    if (part.quoted || !split) {
      acc.text += text;
      acc.map.appendMap(map);
      acc.started = true;
      continue;
    }
    // unquoted: IFS splitting on blanks and newlines, a run of non-blanks at a time; blanks of
    // an unknown part (the source of `$(date +%m%d)` kept in a variable) are not the value's own
    const unknown = v?.dynamic === true && map.hasUnknown();
    const isBlank = (at: number): boolean => { const ch = text.charCodeAt(at); return (ch === 32 || ch === 9 || ch === 10) && !(unknown && map.at(at) === -1); };
    let k = 0;
    while (k < text.length) {
      if (isBlank(k)) {
        if (acc.started) { const via = acc.via; finish(); acc.via = [...via]; }
        k++;
        continue;
      }
      let e = k + 1;
      while (e < text.length && !isBlank(e)) e++;
      acc.text += k === 0 && e === text.length ? text : text.slice(k, e);
      acc.map.appendMap(map, k, e);
      acc.started = true;
      k = e;
    }
  }
  finish();
}

/**
 * A word made only of literal parts: one field (there is nothing to split: the lexer already split
 * on unquoted blanks), or none when it is unquoted and empty. A single part shares its map.
 * Returns false, doing nothing, for words with expansions.
 */
function expandLiteralWord(word: Word, split: boolean, skipChars: number, fields: Value[]): boolean {
  const parts = word.parts;
  let started = false;
  for (const p of parts) if (p.kind !== 'lit') return false;
  if (parts.length === 1 && skipChars === 0) {
    const only = parts[0] as LitPart;
    if (only.quoted || !split || only.text.length > 0) fields.push({ text: only.text, map: only.map, span: word.span, useSpan: word.span, via: NONE, dynamic: false, unresolved: NONE });
    return true;
  }
  let text = '';
  const map = new OffsetMap();
  let skip = skipChars;
  for (const p of parts as LitPart[]) {
    const from = Math.min(skip, p.text.length);
    skip -= from;
    if (p.quoted || !split || from < p.text.length) {
      text += from ? p.text.slice(from) : p.text;
      map.appendMap(p.map, from);
      started = true;
    }
  }
  if (started) fields.push({ text, map, span: word.span, useSpan: word.span, via: NONE, dynamic: false, unresolved: NONE });
  return true;
}

/**
 * A word that is exactly one set variable whose value needs no splitting: the value is the
 * variable's, sharing its map. Returns false, doing nothing, for any other word.
 */
function expandVariableWord(word: Word, scope: Scope, split: boolean, skipChars: number, fields: Value[]): boolean {
  if (word.parts.length !== 1 || skipChars !== 0) return false;
  const part = word.parts[0]!;
  if (part.kind !== 'var') return false;
  const v = scope.get(part.name);
  if (!v || (part.fallbackWhenEmpty && v.text === '' && part.fallback)) return false;
  const unquotedSplit = !part.quoted && split;
  if (unquotedSplit && /[ \t\n]/.test(v.text)) return false;
  if (unquotedSplit && v.text === '') return true; // an empty unquoted expansion is no argument
  const use: VariableUse = { name: part.name, useSpan: part.span, assignSpan: v.valueSpan };
  const via = v.via.length ? [use, ...v.via] : [use];
  fields.push(toValue({ text: v.text, map: v.map, dynamic: v.dynamic, started: true, via, unresolved: v.unresolved.length ? [...v.unresolved] : [] }, word.span));
  return true;
}

/** (An array literal sized to fit: pushing onto an empty array reserves room for 16.) */
function addVia(acc: Acc, use: VariableUse): void {
  if (acc.via.length === 0) acc.via = [use];
  else acc.via.push(use);
}

function toValue(acc: Acc, wordSpan: Span): Value {
  // report on the assignment when the whole value came from one variable's literal text
  let reportSpan: Span = wordSpan;
  if (acc.via.length >= 1 && acc.via[0]!.assignSpan) {
    const outside = acc.map.hasUnknown() || acc.map.touches(wordSpan);
    const own = outside ? undefined : acc.map.span();
    if (own) reportSpan = own;
    else if (!outside && acc.map.length === 0) reportSpan = acc.via[0]!.assignSpan!;
  }
  return {
    text: acc.text,
    map: acc.map,
    span: reportSpan,
    useSpan: wordSpan,
    via: acc.via.length > 1 ? dedupe(acc.via) : acc.via,
    dynamic: acc.dynamic,
    unresolved: acc.unresolved.length > 1 ? [...new Set(acc.unresolved)] : acc.unresolved,
  };
}

function dedupe(via: VariableUse[]): VariableUse[] {
  const seen = new Set<string>();
  return via.filter((u) => {
    const k = `${u.name}@${u.useSpan.start}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** The characters [from, to) of a value as a value of their own (the part after `--flag=`). */
export function sliceValue(v: Value, from: number, to = v.text.length): Value {
  const map = v.map.slice(from, to);
  const own = map.span();
  // a literal part is reported where it is typed; a part that came through a variable keeps the use
  return { ...v, text: v.text.slice(from, to), map, span: own ?? v.span, useSpan: v.via.length === 0 && own ? own : v.useSpan };
}
