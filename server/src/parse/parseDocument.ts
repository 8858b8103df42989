// Picks the parser for a document (shell script, training YAML, training JSON, peft_config JSON)
// from its language id and file name. Never throws: the result always comes back, with problems.
import { OffsetMap } from '../core/offsetMap';
import type { ShellParseCache } from './shellParseCache';
import { parseMappedJson } from './objectView';
import { parseShellScript } from './shellScript';
import { parseStructuredConfig } from './structuredConfig';
import { emptyConfig, type TrainConfig } from './trainConfig';

export type DocumentKind = 'shell' | 'yaml' | 'json' | 'other';

export function kindOf(languageId: string, uri: string): DocumentKind {
  const lower = uri.toLowerCase();
  if (languageId === 'shellscript' || /\.(sh|bash)$/.test(lower)) return 'shell';
  if (languageId === 'yaml' || /\.ya?ml$/.test(lower)) return 'yaml';
  if (languageId === 'json' || languageId === 'jsonc' || /\.json$/.test(lower)) return 'json';
  return 'other';
}

/** Larger documents are checked only up to here (shell) or not at all (YAML/JSON): bounded time. */
export const MAX_CHECKED_CHARS = 2_000_000;

const PEFT_FILE = /(peft|lora|pissa|miss|bone|disha)[^/]*\.json$/i;
const PEFT_KEYS = new Set(['r', 'lora_alpha', 'lora_dropout', 'target_modules', 'lora_r', 'lora_load', 'pissa_r', 'pissa_load', 'pissa_init', 'svd_niter', 'init_lora_weights']);

/** `cache`: the document's ShellParseCache, so that a shell script is parsed again only from the edit on. */
export function parseDocument(text: string, kind: DocumentKind, uri = '', cache?: ShellParseCache): TrainConfig {
  try {
    if (looksBinary(text)) {
      const c = emptyConfig(kind === 'other' ? 'shell' : kind === 'json' ? 'json' : kind);
      c.problems.push({ span: { start: 0, end: 0 }, message: 'This file looks binary (it contains NUL bytes); it is not checked.', severity: 'warning' });
      return c;
    }
    // a byte-order mark would glue itself to the first word; blank it out (same length keeps offsets)
    if (text.charCodeAt(0) === 0xfeff) text = ' ' + text.slice(1);
    if (text.length > MAX_CHECKED_CHARS) return parseLarge(text, kind);
    if (kind === 'shell') return parseShellScript(text, cache);
    if (kind === 'yaml') return parseStructuredConfig(text, 'yaml');
    if (kind === 'json') return parseJson(text, uri);
    return emptyConfig('shell');
  } catch (e) {
    // a parser bug must not take the server down: report it on the first character
    const c = emptyConfig('shell');
    c.problems.push({ span: { start: 0, end: 0 }, message: `Internal parser error: ${(e as Error).message}`, severity: 'warning' });
    return c;
  }
}

function parseLarge(text: string, kind: DocumentKind): TrainConfig {
  const mb = (text.length / 1e6).toFixed(1);
  // a huge YAML/JSON file (package-lock.json, a dataset) is not a training config: say nothing
  if (kind !== 'shell') return emptyConfig(kind === 'json' ? 'json' : 'yaml');
  const cut = text.lastIndexOf('\n', MAX_CHECKED_CHARS);
  const c = parseShellScript(text.slice(0, cut > 0 ? cut + 1 : MAX_CHECKED_CHARS));
  c.problems.push({ span: { start: 0, end: 0 }, message: `This script has ${mb} million characters; only its first ${MAX_CHECKED_CHARS / 1e6} million are checked.`, severity: 'info' });
  return c;
}

function parseJson(text: string, uri: string): TrainConfig {
  const parsed = parseMappedJson({ text, map: OffsetMap.contiguous(0, text.length) }, { start: 0, end: Math.min(1, text.length) });
  const keys = parsed.object?.entries.map((e) => e.key) ?? [];
  const peftLike = PEFT_FILE.test(uri) || (keys.length > 0 && keys.every((k) => PEFT_KEYS.has(k) || k === 'task_type' || k === 'bias'));
  if (peftLike && (parsed.object || PEFT_FILE.test(uri))) {
    const c = emptyConfig('peft-json');
    if (parsed.object) c.peft = parsed.object;
    const method = /(lora|pissa|miss|bone|disha)/i.exec(uri.split('/').pop() ?? '')?.[1]?.toLowerCase();
    if (method) c.peftMethod = method;
    for (const p of parsed.problems) c.problems.push({ ...p, severity: 'error' });
    return c;
  }
  return parseStructuredConfig(text, 'json');
}

function looksBinary(text: string): boolean {
  const head = text.length > 8192 ? text.slice(0, 8192) : text;
  return head.includes('\u0000');
}
