// JSON objects with document positions, from inline flag values (peft_config='{...}', mapped
// through variables) and from .json files, using jsonc-parser in strict mode (train.py uses
// json.loads: no comments, no trailing commas). Never throws. (The ESM build is imported because
// the package's UMD main cannot be bundled by esbuild.)
import { parseTree, printParseErrorCode, type Node, type ParseError } from 'jsonc-parser/lib/esm/main.js';
import { OffsetMap } from '../core/offsetMap';
import { spanOf, type MappedText, type Span } from '../core/span';
import type { ObjectEntry, ObjectView } from './trainConfig';

export interface JsonProblem { span: Span; message: string }

export interface JsonParse { object?: ObjectView; problems: JsonProblem[]; value?: unknown }

/** Parses mapped JSON text; spans point into the document (`fallback` where a character has no source). */
export function parseMappedJson(m: MappedText, fallback: Span): JsonParse {
  const at = (offset: number, length: number): Span => spanOf(m, offset, Math.max(offset + 1, offset + length)) ?? fallback;
  const { root, errors } = parseJsonText(m.text);
  // one problem per place: a trailing comma gives jsonc-parser's "property name expected" and "value expected" at the same }
  const problems: JsonProblem[] = [];
  const seen = new Set<number>();
  for (const e of errors) {
    if (problems.length === 5) break;
    if (seen.has(e.offset)) continue;
    seen.add(e.offset);
    const trailingComma = /^\s*[}\]]/.test(m.text.slice(e.offset)) && /,\s*$/.test(m.text.slice(0, e.offset));
    problems.push({ span: at(e.offset, e.length), message: trailingComma ? 'Invalid JSON: a trailing comma before the closing bracket (json.loads refuses it; remove the comma).' : `Invalid JSON: ${describe(printParseErrorCode(e.error))}.` });
  }
  if (!root) return { problems };
  if (root.type !== 'object') {
    if (!problems.length) problems.push({ span: at(root.offset, root.length), message: 'Expected a JSON object ({...}).' });
    return { problems, value: nodeValue(root) };
  }
  const entries: ObjectEntry[] = [];
  for (const prop of root.children ?? []) {
    const [k, v] = prop.children ?? [];
    if (!k || typeof k.value !== 'string') continue;
    entries.push({
      key: k.value,
      keySpan: at(k.offset, k.length),
      value: v ? nodeValue(v) : undefined,
      valueSpan: v ? at(v.offset, v.length) : at(k.offset, k.length),
      ...(v ? { valueText: m.text.slice(v.offset, v.offset + v.length) } : {}),
    });
  }
  return { object: { entries, span: at(root.offset, root.length) }, problems, value: nodeValue(root) };
}

/**
 * jsonc-parser's tree for a text, remembered for the last few texts: the same peft_config string
 * is usually passed to every train.py call of a script, and is unchanged by most edits. The tree
 * is only read (positions are mapped per call), so sharing it is safe.
 */
const treeCache = new Map<string, { root: Node | undefined; errors: ParseError[] }>();
const TREE_CACHE_ENTRIES = 32;
const TREE_CACHE_MAX_CHARS = 64 * 1024;

function parseJsonText(text: string): { root: Node | undefined; errors: ParseError[] } {
  const hit = treeCache.get(text);
  if (hit) return hit;
  const errors: ParseError[] = [];
  const root = parseTree(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
  if (text.length <= TREE_CACHE_MAX_CHARS) {
    if (treeCache.size >= TREE_CACHE_ENTRIES) treeCache.delete(treeCache.keys().next().value!);
    treeCache.set(text, { root, errors });
  }
  return { root, errors };
}

/** A .json document (identity mapping). */
export function parseJsonDocument(text: string): JsonParse {
  return parseMappedJson({ text, map: OffsetMap.contiguous(0, text.length) }, { start: 0, end: Math.min(1, text.length) });
}

function nodeValue(n: Node): unknown {
  switch (n.type) {
    case 'object': {
      const o: Record<string, unknown> = {};
      for (const p of n.children ?? []) { const [k, v] = p.children ?? []; if (k && v) o[String(k.value)] = nodeValue(v); }
      return o;
    }
    case 'array': return (n.children ?? []).map(nodeValue);
    default: return n.value;
  }
}

function describe(code: string): string {
  return code.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
}
