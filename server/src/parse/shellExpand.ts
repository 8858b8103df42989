// Variable expansion with bash's rules for what people write in training scripts: assignments
// expand at assignment time, unquoted expansions are split on whitespace, quoted ones are not,
// ${VAR:-fallback} works, and every character keeps its document offset (through the variable's
// assignment), so a problem in `$n_layer` is reported where n_layer was set.
import type { Span } from '../core/span';
import type { Word } from './shellLexer';
import type { Value, VariableUse } from './trainConfig';

export interface ShellVariable {
  name: string;
  text: string;
  map: number[];
  nameSpan: Span;
  /** Span of the assigned value in the document. */
  valueSpan: Span;
  exported: boolean;
  dynamic: boolean;
  unresolved: string[];
  via: VariableUse[];
}

export type Scope = Map<string, ShellVariable>;

interface Acc { text: string; map: number[]; dynamic: boolean; started: boolean; via: VariableUse[]; unresolved: string[] }
const fresh = (): Acc => ({ text: '', map: [], dynamic: false, started: false, via: [], unresolved: [] });

/**
 * Expands a word into the fields bash would pass as arguments. `split` false treats the whole word
 * as quoted (assignment right-hand sides).
 */
export function expandWord(word: Word, scope: Scope, split = true, skipChars = 0): Value[] {
  const fields: Value[] = [];
  let acc = fresh();
  const finish = (): void => {
    if (acc.started) fields.push(toValue(acc, word.span));
    acc = fresh();
  };
  let skip = skipChars;
  for (const part of word.parts) {
    if (part.kind === 'lit') {
      let text = part.text;
      let map = part.map;
      if (skip > 0) {
        const k = Math.min(skip, text.length);
        text = text.slice(k); map = map.slice(k); skip -= k;
      }
      if (part.quoted || !split) {
        acc.text += text;
        for (const o of map) acc.map.push(o);
        acc.started = true;
      } else {
        // unquoted literal whitespace never appears (the lexer splits on it), but escaped
        // characters arrive as quoted parts, so this is plain text
        if (text.length) { acc.text += text; for (const o of map) acc.map.push(o); acc.started = true; }
      }
      continue;
    }
    if (part.kind === 'dyn') {
      acc.dynamic = true;
      acc.started = true;
      acc.text += part.source;
      for (let k = 0; k < part.source.length; k++) acc.map.push(-1);
      continue;
    }
    const v = scope.get(part.name);
    const useSpan = part.span;
    let text: string;
    let map: number[];
    if (v && !(part.fallbackWhenEmpty && v.text === '' && part.fallback)) {
      acc.via.push({ name: part.name, useSpan, assignSpan: v.valueSpan });
      for (const u of v.via) acc.via.push(u);
      if (v.dynamic) acc.dynamic = true;
      for (const u of v.unresolved) acc.unresolved.push(u);
      text = v.text; map = v.map;
    } else if (part.fallback) {
      acc.via.push({ name: part.name, useSpan });
      text = part.fallback.text; map = part.fallback.map;
    } else {
      acc.via.push({ name: part.name, useSpan });
      acc.unresolved.push(part.name);
      acc.dynamic = true;
      acc.started = true;
      const shown = '$' + part.name;
      acc.text += shown;
      for (let k = 0; k < shown.length; k++) acc.map.push(-1);
      continue;
    }
    if (part.quoted || !split) {
      acc.text += text;
      for (const o of map) acc.map.push(o);
      acc.started = true;
      continue;
    }
    // unquoted: IFS splitting on blanks and newlines
    let k = 0;
    while (k < text.length) {
      const ch = text[k]!;
      if (ch === ' ' || ch === '\t' || ch === '\n') {
        if (acc.started) { const via = acc.via; finish(); acc.via = [...via]; }
        k++;
        continue;
      }
      acc.text += ch;
      acc.map.push(map[k] ?? -1);
      acc.started = true;
      k++;
    }
  }
  finish();
  return fields;
}

function toValue(acc: Acc, wordSpan: Span): Value {
  // report on the assignment when the whole value came from one variable's literal text
  let reportSpan: Span = wordSpan;
  if (acc.via.length >= 1 && acc.via[0]!.assignSpan) {
    let lo = Infinity, hi = -1, outside = false;
    for (const o of acc.map) {
      if (o < 0) { outside = true; break; }
      if (o >= wordSpan.start && o < wordSpan.end) { outside = true; break; }
      if (o < lo) lo = o;
      if (o + 1 > hi) hi = o + 1;
    }
    if (!outside && hi > lo) reportSpan = { start: lo, end: hi };
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
  let lo = Infinity, hi = -1;
  for (const o of map) { if (o >= 0) { lo = Math.min(lo, o); hi = Math.max(hi, o + 1); } }
  const own = hi > lo ? { start: lo, end: hi } : undefined;
  // a literal part is reported where it is typed; a part that came through a variable keeps the use
  return { ...v, text: v.text.slice(from, to), map, span: own ?? v.span, useSpan: v.via.length === 0 && own ? own : v.useSpan };
}
