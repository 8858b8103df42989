// Renders the run protocol's one schema (engine/core/protocol.schema.json) as the extension's
// TypeScript types (extension/src/runs/protocol.ts) and as ARCHITECTURE.md's protocol section.
// extension/scripts/gen-protocol.ts writes both; extension/test/protocolSchema.test.ts fails
// when either is not what this renders. Only the JSON Schema subset core/json_schema.cpp
// implements appears in the schema.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Schema {
  type?: string | string[];
  const?: unknown;
  enum?: unknown[];
  description?: string;
  title?: string;
  version?: number;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  oneOf?: Schema[];
  $ref?: string;
  $defs?: Record<string, Schema>;
}

export const REPO_ROOT = join(__dirname, '..', '..');
export const SCHEMA_PATH = join(REPO_ROOT, 'engine', 'core', 'protocol.schema.json');
export const TYPES_PATH = join(REPO_ROOT, 'extension', 'src', 'runs', 'protocol.ts');
export const DOC_PATH = join(REPO_ROOT, 'ARCHITECTURE.md');
export const DOC_BEGIN = '<!-- run-protocol:begin (generated from engine/core/protocol.schema.json by extension/scripts/gen-protocol.ts; do not edit) -->';
export const DOC_END = '<!-- run-protocol:end -->';

export function loadSchema(path = SCHEMA_PATH): Schema {
  return JSON.parse(readFileSync(path, 'utf8')) as Schema;
}

/**
 * Fields a reader may rely on although every other field is optional: protocolReader.ts turns a
 * `step` event without a finite numeric `step` into garbage, so a StepEvent always has one.
 */
export const READER_GUARANTEES: Record<string, readonly string[]> = { step: ['step'] };

/** The event definitions in the order the root's oneOf lists them. */
export function eventDefs(root: Schema): [string, Schema][] {
  return (root.oneOf ?? []).map((alt) => {
    const name = (alt.$ref ?? '').replace('#/$defs/', '');
    const def = root.$defs?.[name];
    if (!def) throw new Error(`oneOf names ${alt.$ref}, which is not in $defs`);
    return [name, def];
  });
}

function resolve(root: Schema, s: Schema): Schema {
  if (!s.$ref) return s;
  const def = root.$defs?.[s.$ref.replace('#/$defs/', '')];
  if (!def) throw new Error(`$ref ${s.$ref} names nothing`);
  return def;
}

function pascal(name: string): string {
  return name.split('_').map((w) => w[0].toUpperCase() + w.slice(1)).join('');
}

function tsType(root: Schema, schema: Schema, indent: string): string {
  const s = resolve(root, schema);
  if (s.const !== undefined) return JSON.stringify(s.const).replace(/"/g, "'");
  if (s.enum) return s.enum.map((v) => JSON.stringify(v).replace(/"/g, "'")).join(' | ');
  const types = Array.isArray(s.type) ? s.type : [s.type];
  const one = (t: string | undefined): string => {
    switch (t) {
      case 'integer': case 'number': return 'number';
      case 'string': return 'string';
      case 'boolean': return 'boolean';
      case 'null': return 'null';
      case 'array': return s.items ? `Array<${tsType(root, s.items, indent)}>` : 'unknown[]';
      case 'object': {
        if (!s.properties) {
          const extra = s.additionalProperties;
          return `Record<string, ${typeof extra === 'object' ? tsType(root, extra, indent) : 'unknown'}>`;
        }
        const inner = indent + '  ';
        const lines = Object.entries(s.properties).map(([k, p]) => `${inner}${k}?: ${tsType(root, p, inner)};${comment(root, p)}`);
        return `{\n${lines.join('\n')}\n${indent}}`;
      }
      default: return 'unknown';
    }
  };
  return types.map(one).join(' | ');
}

function comment(root: Schema, p: Schema): string {
  const d = resolve(root, p).description ?? p.description;
  return d ? ` // ${d}` : '';
}

/** extension/src/runs/protocol.ts, as it must read. */
export function renderProtocolTypes(root: Schema): string {
  const out: string[] = [
    '// Generated from engine/core/protocol.schema.json by extension/scripts/gen-protocol.ts; do not edit.',
    '// The types of the run protocol. Every field but `event` is optional on purpose: readers must',
    '// survive old, new and partial engines, so consumers check what they use instead of trusting',
    '// the shape. What the engine promises (required fields, no others) is the schema; the',
    "// engine's tests hold it to that.",
    '',
    `export const PROTOCOL_VERSION = ${root.version};`,
    '',
    'interface EventBase {',
    '  event: string;',
    '  v?: number;',
    '  time?: number;',
    '  [extra: string]: unknown;',
    '}',
  ];
  const names: string[] = [];
  for (const [name, def] of eventDefs(root)) {
    const iface = `${pascal(name)}Event`;
    names.push(iface);
    out.push('', `/** ${def.description ?? name} */`, `export interface ${iface} extends EventBase {`, `  event: '${name}';`);
    for (const [k, p] of Object.entries(def.properties ?? {})) {
      if (k === 'event' || k === 'v' || k === 'time') continue;
      const optional = READER_GUARANTEES[name]?.includes(k) ? '' : '?';
      out.push(`  ${k}${optional}: ${tsType(root, p, '  ')};${comment(root, p)}`);
    }
    out.push('}');
  }
  out.push(
    '',
    '/** Each event\'s top-level numeric fields; protocolReader.ts drops a value of the wrong type. */',
    'export const NUMERIC_FIELDS: Readonly<Record<string, readonly string[]>> = {',
  );
  for (const [name, def] of eventDefs(root)) {
    const numeric = Object.entries(def.properties ?? {})
      .filter(([k, p]) => k !== 'v' && k !== 'time' && ['number', 'integer'].includes(String(resolve(root, p).type)))
      .map(([k]) => `'${k}'`);
    out.push(`  ${name}: [${numeric.join(', ')}],`);
  }
  out.push('};');
  out.push(
    '',
    '/** An event this reader does not know; kept so nothing the engine says is lost. */',
    'export interface UnknownEvent extends EventBase { event: string }',
    '',
    'export type ProtocolEvent =',
    `  | ${names.join(' | ')};`,
    '',
  );
  return out.join('\n');
}

function docValue(root: Schema, schema: Schema): string {
  const s = resolve(root, schema);
  if (s.enum) return s.enum.join(' | ');
  return '';
}

function docFields(root: Schema, def: Schema): string {
  const required = new Set(def.required ?? []);
  const parts: string[] = [];
  for (const [k, p] of Object.entries(def.properties ?? {})) {
    if (k === 'event' || k === 'v' || k === 'time') continue;
    const s = resolve(root, p);
    let text = `\`${k}\``;
    if (s.properties) text += ` {${docFields(root, s)}}`;
    const item = s.items ? resolve(root, s.items) : undefined;
    if (item?.properties) text += ` [{${docFields(root, item)}}]`;
    const notes: string[] = [];
    const values = docValue(root, s);
    if (values) notes.push(values);
    if (s.description) notes.push(s.description);
    if (!required.has(k)) notes.push('optional');
    if (notes.length) text += ` (${notes.join('; ')})`;
    parts.push(text);
  }
  return parts.join(', ');
}

/** ARCHITECTURE.md's protocol bullet, between DOC_BEGIN and DOC_END. */
export function renderProtocolDoc(root: Schema): string {
  const lines = [
    DOC_BEGIN,
    `- **Run protocol** (engine stdout and \`proj_dir/metrics.jsonl\`, JSON Lines, \`v\` = ${root.version}; one`,
    '  source: `engine/core/protocol.schema.json`; the engine\'s tests validate every line they see',
    '  against it, unknown fields included; readers ignore unknown fields and events). Every object',
    '  has `event`, `v`, `time` (unix seconds). extension/test/realEngine.test.ts checks the real',
    '  engine against this contract too.',
  ];
  for (const [name, def] of eventDefs(root)) lines.push(...wrap(`- \`${name}\` (${def.description ?? ''}): ${docFields(root, def)}.`, '  ', '    '));
  lines.push(DOC_END);
  return lines.join('\n');
}

/** Breaks text into lines of at most `width` characters at spaces, as the rest of the file is. */
function wrap(text: string, first: string, rest: string, width = 100): string[] {
  const lines: string[] = [];
  let line = first;
  for (const word of text.split(' ')) {
    const prefix = lines.length === 0 ? first : rest;
    if (line.length > prefix.length && line.length + 1 + word.length > width) {
      lines.push(line);
      line = rest + word;
    } else {
      line += (line.length > prefix.length ? ' ' : '') + word;
    }
  }
  lines.push(line);
  return lines;
}

export function withProtocolDoc(doc: string, root: Schema): string {
  const a = doc.indexOf(DOC_BEGIN);
  const b = doc.indexOf(DOC_END);
  if (a < 0 || b < 0) throw new Error(`ARCHITECTURE.md has no ${DOC_BEGIN} ... ${DOC_END} section`);
  return doc.slice(0, a) + renderProtocolDoc(root) + doc.slice(b + DOC_END.length);
}
