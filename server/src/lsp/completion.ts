// Completion from the text around the cursor (documents are often half-typed): flag names with
// docs and model-size presets, enum values, PEFT settings keys inside peft_config JSON or YAML
// mappings, and file paths (.pth for load_model, binidx prefixes and .jsonl for data_file).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CompletionItemKind, InsertTextFormat, type CompletionItem, type Range } from 'vscode-languageserver/node';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { FLAGS, flagSpec } from '../flags/flagTable';
import { sizesFor, sizeVersion, versionLabel, type ModelSize } from '../model/modelSizes';
import { argText, type Trainer, type TrainConfig, type TrainRun } from '../parse/trainConfig';
import { kindOf, parseDocument } from '../parse/parseDocument';
import { getLocation, parseTree, type Node as JsonNode } from 'jsonc-parser/lib/esm/main.js';
import { OffsetMap } from '../core/offsetMap';
import { LEGACY_CONFIG_KEYS, peftConfigKeys, standaloneSettingsKeys, type PeftKey } from '../peft/peftKeys';
import { methodOf, settingsOf } from '../checks/peftSettings';
import { resolvePath } from '../facts/gather';
import type { Analysis } from './analysis';
import { flagDoc } from './hover';
import { langOf, t, type Lang } from './i18n';

export function completeAt(doc: TextDocument, a: Analysis | undefined, offset: number, locale: string | undefined): CompletionItem[] {
  const lang = langOf(locale);
  const text = doc.getText();
  const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
  const before = text.slice(lineStart, offset);
  const yaml = /\.ya?ml$/i.test(doc.uri) || doc.languageId === 'yaml';
  // the analysis can be a version behind (a completion request may overtake the edit's check), and
  // offsets into the JSON must come from this very text: parse it again then (a few ms at most)
  const config = a && a.text === text ? a.config : parseDocument(text, kindOf(doc.languageId, doc.uri), doc.uri);
  const run = runNear(config, offset);
  const trainer: Trainer = run?.trainer ?? 'peft';
  // the size presets of the script's generation: an x060 script gets RWKV-6's 1.6B/3B/7B
  const sizes = sizesFor(sizeVersion(run ? argText(run, 'my_testing') : undefined));
  const replace = (len: number): Range => ({ start: doc.positionAt(offset - len), end: doc.positionAt(offset) });

  // PEFT settings keys and values inside JSON train.py will read: a --*_config value (inline, over
  // several lines, through a variable) or a standalone peft_config .json file
  const settings = settingsCursor(doc, config, offset);
  if (settings) return settingsItems(doc, settings, offset, lang);
  // a settings variable no train.py call uses yet: read the JSON from the line itself
  const json = /\{[^{}]*$/.exec(before);
  if (json && /_config|\{/.test(before)) {
    const keyCtx = /[{,]\s*"?([A-Za-z_]*)$/.exec(before);
    if (keyCtx) {
      const flag = /(lora_config|pissa_config|disha_config|miss_config)/.exec(before)?.[1] ?? 'peft_config';
      const quoted = /"[A-Za-z_]*$/.test(before);
      const written = new Set([...json[0].matchAll(/"([A-Za-z_]\w*)"\s*:/g)].map((m) => m[1]!));
      return peftKeyItems(settingsKeys(flag, run ? methodOf(run) : 'lora'), written, lang, replace(keyCtx[1]!.length + (quoted ? 1 : 0)));
    }
  }

  if (yaml) {
    const keyOnly = /^(\s*)(-\s+)?([A-Za-z_-]*)$/.exec(before);
    if (keyOnly) {
      const indent = keyOnly[1]!.length + (keyOnly[2]?.length ?? 0);
      const parent = yamlParent(text, lineStart, indent);
      if (parent && /_config$/.test(parent)) {
        const written = new Set(run ? settingsOf(run, parent)?.object?.entries.map((e) => e.key) : []);
        written.delete(keyOnly[3]!);
        return peftKeyItems(settingsKeys(parent, run ? methodOf(run) : 'lora'), written, lang, replace(keyOnly[3]!.length), 'yaml');
      }
      return flagItems(trainer, sizes, lang, replace(keyOnly[3]!.length), 'yaml', ' '.repeat(indent));
    }
    const kv = /^\s*(?:-\s+)?([A-Za-z_]+)\s*:\s*["']?([^\s"']*)$/.exec(before);
    if (kv) return valueItems(kv[1]!, kv[2]!, a, sizes, lang, replace(kv[2]!.length));
    return [];
  }

  // at the start of a line, tutorial-style scripts set n_layer=/n_embd= variables: offer the presets
  const lineWord = /^(\s*)([A-Za-z_]+)$/.exec(before);
  if (lineWord && 'n_layer'.startsWith(lineWord[2]!.toLowerCase().slice(0, 7)) && /^n/i.test(lineWord[2]!)) {
    const upper = lineWord[2]![0] === 'N';
    return sizes.map((sz) => ({
      label: `${versionLabel(sz.version)} ${sz.size} (${upper ? 'N_LAYER' : 'n_layer'}=${sz.nLayer}, ${upper ? 'N_EMBD' : 'n_embd'}=${sz.nEmbd})`,
      kind: CompletionItemKind.Snippet,
      detail: t('preset', lang),
      filterText: `${lineWord[2]} ${sz.size}`,
      sortText: `3${sz.nEmbd.toString().padStart(5, '0')}`,
      textEdit: { range: replace(lineWord[2]!.length), newText: upper ? `N_LAYER="${sz.nLayer}"\n${lineWord[1]}N_EMBD="${sz.nEmbd}"` : `n_layer=${sz.nLayer}\n${lineWord[1]}n_embd=${sz.nEmbd}` },
    }));
  }
  const word = /(?:^|[\s])(-{1,2}[A-Za-z0-9_-]*)$/.exec(before);
  if (word) return flagItems(trainer, sizes, lang, replace(word[1]!.length), 'shell', '');
  const flagValue = /--([A-Za-z0-9_]+)(?:\s+|=)["']?([^\s"'=]*)$/.exec(before);
  if (flagValue) return valueItems(flagValue[1]!, flagValue[2]!, a, sizes, lang, replace(flagValue[2]!.length));
  const assign = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=["']?([^\s"']*)$/.exec(before);
  if (assign) {
    const name = assign[1]!;
    // a variable feeds the flag that uses it; tutorial scripts name them after the flag
    const used = config.runs.flatMap((r) => r.args).find((x) => x.value?.via.some((u) => u.name === name))?.name;
    const flag = used ?? (flagSpec(name.toLowerCase()) ? name.toLowerCase() : undefined);
    if (flag) return valueItems(flag, assign[2]!, a, sizes, lang, replace(assign[2]!.length));
  }
  return [];
}

function runNear(config: TrainConfig, offset: number): TrainRun | undefined {
  return config.runs.find((r) => offset >= r.span.start && offset <= r.span.end + 1) ?? config.runs[0];
}

function yamlParent(text: string, lineStart: number, indent: number): string | undefined {
  // the nearest line above with less indentation is the parent key
  if (indent === 0) return undefined;
  let end = lineStart - 1;
  while (end > 0) {
    const start = text.lastIndexOf('\n', end - 1) + 1;
    const line = text.slice(start, end);
    end = start - 1;
    if (!line.trim()) continue;
    const lead = /^\s*/.exec(line)![0].length;
    if (lead < indent) return /^\s*(?:-\s+)?([A-Za-z_-]+)\s*:/.exec(line)?.[1];
  }
  return undefined;
}

function flagItems(trainer: Trainer, sizes: readonly ModelSize[], lang: Lang, range: Range, style: 'shell' | 'yaml', indent: string): CompletionItem[] {
  const items: CompletionItem[] = FLAGS.map((spec) => {
    const mine = spec.trainers.includes(trainer);
    const label = style === 'shell' ? `--${spec.name}` : spec.name;
    return {
      label,
      kind: CompletionItemKind.Property,
      detail: `${spec.type}${spec.engine === 'ignored' ? ' · ignored by the engine' : ''}`,
      // the doc is filled in by completionItem/resolve: a list of ~100 docs is slow to send
      data: { flag: spec.name, lang },
      sortText: `${mine ? (spec.engine === 'used' ? '0' : '1') : '2'}${spec.name}`,
      textEdit: { range, newText: style === 'shell' ? `--${spec.name}${spec.type === 'switch' ? '' : ' '}` : `${spec.name}: ` },
      ...(spec.deprecated ? { tags: [1] } : {}),
    };
  });
  for (const s of sizes) {
    items.push({
      label: `${versionLabel(s.version)} ${s.size} (n_layer ${s.nLayer}, n_embd ${s.nEmbd})`,
      kind: CompletionItemKind.Snippet,
      detail: t('preset', lang),
      filterText: style === 'shell' ? `--n_layer --n_embd ${s.size}` : `n_layer n_embd ${s.size}`,
      sortText: `3${s.nEmbd.toString().padStart(5, '0')}`,
      insertTextFormat: InsertTextFormat.PlainText,
      textEdit: { range, newText: style === 'shell' ? `--n_layer ${s.nLayer} --n_embd ${s.nEmbd}` : `n_layer: ${s.nLayer}\n${indent}n_embd: ${s.nEmbd}` },
    });
  }
  return items;
}

function valueItems(flag: string, partial: string, a: Analysis | undefined, sizes: readonly ModelSize[], lang: Lang, range: Range): CompletionItem[] {
  const spec = flagSpec(flag);
  if (!spec) return [];
  if (flag === 'load_model' || flag === 'data_file' || flag.endsWith('_load') || flag === 'proj_dir') {
    return pathItems(flag, partial, a?.cwd ?? process.cwd(), range);
  }
  if (flag === 'n_layer' || flag === 'n_embd') {
    const seen = new Set<number>();
    return sizes.filter((s) => { const v = flag === 'n_layer' ? s.nLayer : s.nEmbd; if (seen.has(v)) return false; seen.add(v); return true; })
      .map((s) => {
        const v = flag === 'n_layer' ? s.nLayer : s.nEmbd;
        const named = sizes.filter((x) => (flag === 'n_layer' ? x.nLayer : x.nEmbd) === v).map((x) => x.size).join('/');
        return { label: String(v), kind: CompletionItemKind.Value, detail: named, textEdit: { range, newText: String(v) } };
      });
  }
  if (spec.values) {
    return spec.values.map((v, i) => ({ label: v, kind: CompletionItemKind.EnumMember, sortText: String(i).padStart(3, '0'), documentation: { kind: 'markdown', value: flagDoc(flag, undefined, lang) }, textEdit: { range, newText: v } }));
  }
  return [];
}

/** Files a path flag may name: folders, then .pth checkpoints or binidx prefixes / .jsonl. */
export function pathItems(flag: string, partial: string, cwd: string, range: Range): CompletionItem[] {
  const dirPart = partial.includes('/') ? partial.slice(0, partial.lastIndexOf('/') + 1) : '';
  const dir = resolvePath(cwd, dirPart || '.');
  let names: string[];
  try { names = readdirSync(dir).slice(0, 2000); } catch { return []; }
  const set = new Set(names);
  const items: CompletionItem[] = [];
  for (const n of names) {
    if (n.startsWith('.')) continue;
    let isDir = false;
    try { isDir = statSync(join(dir, n)).isDirectory(); } catch { isDir = false; }
    if (isDir) { items.push({ label: `${n}/`, kind: CompletionItemKind.Folder, sortText: `1${n}`, textEdit: { range, newText: `${dirPart}${n}/` }, command: { title: 'more', command: 'editor.action.triggerSuggest' } }); continue; }
    if (flag === 'load_model' || flag.endsWith('_load')) {
      if (n.endsWith('.pth')) items.push({ label: n, kind: CompletionItemKind.File, sortText: `0${n}`, textEdit: { range, newText: `${dirPart}${n}` } });
    } else if (flag === 'data_file') {
      if (n.endsWith('.bin') && set.has(n.replace(/\.bin$/, '.idx'))) {
        const prefix = n.slice(0, -4);
        items.push({ label: prefix, kind: CompletionItemKind.File, detail: 'binidx (.bin + .idx)', sortText: `0${prefix}`, textEdit: { range, newText: `${dirPart}${prefix}` } });
      } else if (n.endsWith('.jsonl')) items.push({ label: n, kind: CompletionItemKind.File, detail: 'jsonl', sortText: `0${n}`, textEdit: { range, newText: `${dirPart}${n}` } });
    }
  }
  return items;
}

/** The keys a settings flag takes: --peft_config's per method, or an older flag's own. */
function settingsKeys(flag: string, method: string): PeftKey[] {
  return (flag === 'peft_config' ? peftConfigKeys(method) : LEGACY_CONFIG_KEYS[flag]?.keys) ?? [];
}

/**
 * Key items for a settings object: not the keys it already has (json.loads keeps only the last of
 * a repeated key, so a second one is never what is meant), and not those the newest train.py
 * passes itself (RWKV012 reports target_modules there as an error; completion must not suggest it).
 */
function peftKeyItems(keys: PeftKey[], written: ReadonlySet<string>, lang: Lang, range: Range, style: 'json' | 'yaml' = 'json', quote = '"', colon = true): CompletionItem[] {
  return keys.filter((k) => !k.passedByTrainer && !written.has(k.key)).map((k, i) => {
    const newText = style === 'json' ? `${quote}${k.key}${quote}${colon ? ':' : ''}` : `${k.key}: `;
    return {
      label: k.key,
      kind: CompletionItemKind.Field,
      detail: `${k.type}${k.default !== undefined ? ` = ${JSON.stringify(k.default)}` : ''}`,
      documentation: { kind: 'markdown', value: k.doc[lang] },
      sortText: String(i).padStart(3, '0'),
      // the replaced text starts with the typed quote: VS Code filters on it, so the filter text must too
      ...(style === 'json' ? { filterText: newText } : {}),
      textEdit: { range, newText },
    };
  });
}

/** The cursor inside a PEFT settings JSON: the text json.loads reads, the cursor's index in it, and how it maps to the document. */
interface SettingsCursor {
  text: string;
  index: number;
  /** Document offset of each character of `text`. */
  map: OffsetMap;
  keys: PeftKey[];
  /** Written inside shell double quotes, where each JSON quote is \". */
  quote: string;
}

function settingsCursor(doc: TextDocument, config: TrainConfig, offset: number): SettingsCursor | undefined {
  if (config.kind === 'peft-json') {
    const text = doc.getText();
    const present = [...text.matchAll(/"([A-Za-z_]\w*)"\s*:/g)].map((m) => m[1]!);
    return { text, index: offset, map: OffsetMap.contiguous(0, text.length), keys: standaloneSettingsKeys(present, config.peftMethod).keys, quote: '"' };
  }
  for (const run of config.runs) {
    for (const arg of run.args) {
      if (!arg.name.endsWith('_config') || !arg.value || arg.value.structured) continue;
      const { text, map } = arg.value;
      // JSON text only: in YAML, `peft_config:` over a half-typed key reads as the string "lora_"
      if (!/^\s*\{/.test(text)) continue;
      // the cursor sits before the character at `offset`, or after the value's last character
      let index = map.indexOf(offset);
      if (index < 0) { const last = map.indexOf(offset - 1); index = last < 0 ? -1 : last + 1; }
      if (index < 0) continue;
      const firstQuote = text.indexOf('"');
      const escaped = firstQuote >= 0 && doc.getText().charAt(map.at(firstQuote) - 1) === '\\';
      return { text, index, map, keys: settingsKeys(arg.name, methodOf(run)), quote: escaped ? '\\"' : '"' };
    }
  }
  return undefined;
}

/** Keys at a key position of the top-level object; values of a key that has a fixed set. */
function settingsItems(doc: TextDocument, c: SettingsCursor, offset: number, lang: Lang): CompletionItem[] {
  const where = getLocation(c.text, c.index);
  if (where.path.length !== 1) return [];
  const root = parseTree(c.text, [], { allowTrailingComma: true });
  const props = root?.type === 'object' ? root.children ?? [] : [];
  // the property the cursor is in (its value node is replaced whole), and the keys written elsewhere
  const inNode = (n: JsonNode | undefined): boolean => !!n && c.index > n.offset && c.index <= n.offset + n.length;
  const here = props.find((p) => inNode(p.children?.[0]) || inNode(p.children?.[1]));
  const written = new Set(props.filter((p) => p !== here).map((p) => String(p.children?.[0]?.value)));
  const docSpan = (from: number, to: number): Range => {
    let start = c.map.at(from);
    const end = to > from ? c.map.at(to - 1) + 1 : offset;
    if (start < 0 || end <= 0) return { start: doc.positionAt(offset), end: doc.positionAt(offset) };
    // a written \" starts one character before the quote json.loads gets
    if (c.quote !== '"' && c.text[from] === '"' && doc.getText().charAt(start - 1) === '\\') start--;
    return { start: doc.positionAt(start), end: doc.positionAt(end) };
  };
  if (where.isAtPropertyKey) {
    // the key typed so far and the rest of it after the cursor are replaced (with the closing quote
    // when the key is quoted); a key needs a { or , before it
    const before = c.text.slice(0, c.index);
    const partial = /"?[A-Za-z_]*$/.exec(before)![0];
    if (!/[{,]\s*$/.test(before.slice(0, before.length - partial.length))) return [];
    const rest = (partial.startsWith('"') ? /^[A-Za-z_]*"?/ : /^[A-Za-z_]*/).exec(c.text.slice(c.index))![0];
    const hasColon = /^\s*:/.test(c.text.slice(c.index + rest.length));
    return peftKeyItems(c.keys, written, lang, docSpan(c.index - partial.length, c.index + rest.length), 'json', c.quote, !hasColon);
  }
  const key = c.keys.find((k) => k.key === where.path[0]);
  // peft takes true/false of init_lora_weights and init_weights as JSON booleans, the rest as strings
  const choices = key?.type === 'bool' ? ['true', 'false'] : key?.values?.map((v) => (v === 'true' || v === 'false' ? v : `${c.quote}${v}${c.quote}`));
  if (!key || !choices) return [];
  const valueNode = here?.children?.[1];
  const range = valueNode && inNode(valueNode) ? docSpan(valueNode.offset, valueNode.offset + valueNode.length) : docSpan(c.index, c.index);
  return choices.map((v, i) => ({ label: v.replace(/\\?"/g, ''), kind: CompletionItemKind.Value, sortText: String(i).padStart(3, '0'), filterText: v, documentation: { kind: 'markdown', value: key.doc[lang] }, textEdit: { range, newText: v } }));
}

/** completionItem/resolve: the flag's doc for the item the user is looking at. */
export function resolveCompletion(item: CompletionItem): CompletionItem {
  const data = item.data as { flag?: string; lang?: Lang } | undefined;
  if (data?.flag && !item.documentation) item.documentation = { kind: 'markdown', value: flagDoc(data.flag, undefined, data.lang ?? 'en') };
  return item;
}
