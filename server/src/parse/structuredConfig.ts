// Training configs written as YAML or JSON (flag names as keys), parsed with the `yaml` package
// (positions kept) into the same TrainRun shape as shell scripts. Supported shapes:
//   1. a flat mapping of flags:            n_layer: 24
//   2. flags under `args:` or `flags:`     (other top-level keys, e.g. `trainer:`, are metadata)
//   3. several runs under `runs:`          runs: [{...}, {...}]
// Keys may be written with or without the leading `--`. `trainer: peft | peft-legacy | lm-v7`
// picks the train.py (otherwise detected from the flags). JSON flags (peft_config, lora_config,
// ...) may be a mapping or a JSON string; nargs flags (train_parts) a sequence.
import { isMap, isScalar, isSeq, parseDocument, type Node as YamlNode, type Pair, type YAMLMap } from 'yaml';
import { FLAGS } from '../flags/flagTable';
import { OffsetMap } from '../core/offsetMap';
import type { Span } from '../core/span';
import { detectTrainer } from './trainer';
import { emptyConfig, type FlagArg, type ObjectView, type TrainConfig, type TrainRun, type Value } from './trainConfig';

const KNOWN = new Set(FLAGS.map((f) => f.name));
const META_KEYS = new Set(['trainer', 'name', 'description', 'cwd']);

/** Parses YAML (JSON is YAML too, so .json flag files come through here as well). */
export function parseStructuredConfig(text: string, kind: 'yaml' | 'json'): TrainConfig {
  const config = emptyConfig(kind);
  let doc;
  try {
    doc = parseDocument(text, { keepSourceTokens: false, prettyErrors: false, uniqueKeys: false, strict: false });
  } catch (e) {
    config.problems.push({ span: { start: 0, end: Math.min(1, text.length) }, message: `Cannot parse: ${(e as Error).message}`, severity: 'error' });
    return config;
  }
  const root = doc.contents;
  if (!isMap(root)) return config;
  const groups = runMappings(root);
  if (!groups.some((g) => countKnown(g.map) >= 2 || g.trainer)) return config; // not a training config
  for (const e of doc.errors.slice(0, 5)) {
    const [a, b] = e.pos;
    config.problems.push({ span: { start: a, end: Math.max(b, a + 1) }, message: e.message.split('\n')[0]!, severity: 'error' });
  }
  for (const g of groups) config.runs.push(toRun(g.map, g.trainer, text, g.span));
  return config;
}

interface Group { map: YAMLMap; trainer?: string; span: Span }

function runMappings(root: YAMLMap): Group[] {
  const trainer = scalarOf(root.get('trainer', true));
  const runs = root.get('runs', true);
  if (isSeq(runs)) {
    return runs.items.filter(isMap).map((m) => ({ map: m as YAMLMap, trainer: scalarOf((m as YAMLMap).get('trainer', true)) ?? trainer, span: rangeOf(m as YamlNode) }));
  }
  for (const k of ['args', 'flags']) {
    const inner = root.get(k, true);
    if (isMap(inner)) return [{ map: inner as YAMLMap, trainer, span: rangeOf(inner as YamlNode) }];
  }
  return [{ map: root, trainer, span: rangeOf(root) }];
}

function countKnown(m: YAMLMap): number {
  let n = 0;
  for (const p of m.items) { const k = keyName(p); if (k && KNOWN.has(k)) n++; }
  return n;
}

function keyName(p: Pair): string | undefined {
  const k = isScalar(p.key) ? p.key.value : p.key;
  return typeof k === 'string' ? k.replace(/^--/, '') : typeof k === 'number' ? String(k) : undefined;
}

function toRun(m: YAMLMap, declared: string | undefined, text: string, span: Span): TrainRun {
  const args: FlagArg[] = [];
  for (const p of m.items) {
    const name = keyName(p);
    if (!name || META_KEYS.has(name)) continue;
    const nameSpan = nameSpanOf(rangeOf(p.key as YamlNode), name, text);
    const arg: FlagArg = { name, nameSpan, inline: false };
    const v = p.value as YamlNode | null;
    if (isSeq(v)) {
      arg.values = v.items.map((it) => valueOf(it as YamlNode, text));
      if (arg.values.length) arg.value = arg.values[0];
    } else if (v) {
      arg.value = valueOf(v, text);
    }
    args.push(arg);
  }
  const { trainer, evidence } = detectTrainer(args, declared);
  let line = 0;
  for (let i = 0; i < span.start; i++) if (text.charCodeAt(i) === 10) line++;
  return { line, span, launcher: 'config', script: 'train.py', trainer, trainerEvidence: evidence, args, strays: [], env: {} };
}

function valueOf(node: YamlNode, text: string): Value {
  const span = rangeOf(node);
  if (isMap(node)) {
    const json = JSON.stringify(node.toJSON());
    const structured: ObjectView = {
      span,
      entries: node.items.map((p) => ({
        key: keyName(p) ?? '',
        keySpan: rangeOf(p.key as YamlNode),
        value: isScalar(p.value) ? p.value.value : (p.value as { toJSON?: () => unknown } | null)?.toJSON?.(),
        valueSpan: p.value ? rangeOf(p.value as YamlNode) : rangeOf(p.key as YamlNode),
        valueText: p.value ? text.slice(rangeOf(p.value as YamlNode).start, rangeOf(p.value as YamlNode).end) : '',
      })),
    };
    return { text: json, map: OffsetMap.unknown(json.length), span, useSpan: span, via: [], dynamic: false, unresolved: [], structured };
  }
  const raw = isScalar(node) ? node.value : (node as { toJSON?: () => unknown }).toJSON?.();
  const str = raw === null || raw === undefined ? '' : typeof raw === 'object' ? JSON.stringify(raw) : String(raw);
  const source = text.slice(span.start, span.end);
  let base = -1;
  if (source === str) base = span.start;
  else if (source.length === str.length + 2 && source.slice(1, -1) === str) base = span.start + 1;
  const map = base < 0 ? OffsetMap.unknown(str.length) : OffsetMap.contiguous(base, str.length);
  return { text: str, map, span, useSpan: span, via: [], dynamic: false, unresolved: [] };
}

function rangeOf(n: YamlNode | null | undefined): Span {
  const r = n && (n as { range?: [number, number, number] }).range;
  return r ? { start: r[0], end: r[1] } : { start: 0, end: 0 };
}

function scalarOf(n: unknown): string | undefined {
  return isScalar(n) && typeof n.value === 'string' ? n.value : undefined;
}

/** The span of just the flag name inside a key (without quotes or a leading --). */
function nameSpanOf(key: Span, name: string, text: string): Span {
  const at = text.indexOf(name, key.start);
  return at >= key.start && at + name.length <= key.end ? { start: at, end: at + name.length } : key;
}
