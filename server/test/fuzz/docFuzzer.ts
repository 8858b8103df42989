// The language server's fuzz (issue 14): generated documents (train.py shell scripts, training
// YAML, peft_config JSON, binary garbage) and mutations of them and of the fixtures, each taken
// through the server's document pipeline as an editor drives it — Analyzer.update (parse,
// cached facts, checks, publish), every finding converted to an LSP diagnostic and its fixes to
// code actions, completion, completion resolve and hover at several offsets, rwkv/resolveRuns —
// with nothing caught on the way (server.ts wraps completion and hover; this does not, so any
// exception counts). Figures: documents, documents/s, exceptions, the worst time per document.
// Used by server/test/fuzz.test.ts (a bounded count) and test/bench/faults.bench.mjs (>= 1e6).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { FactsCache } from '../../src/facts/cache';
import { FLAGS } from '../../src/flags/flagTable';
import { Analyzer, type Analysis } from '../../src/lsp/analysis';
import { completeAt, resolveCompletion } from '../../src/lsp/completion';
import { toCodeAction, toDiagnostic } from '../../src/lsp/convert';
import { hoverAt } from '../../src/lsp/hover';
import { resolveRuns } from '../../src/lsp/resolveRuns';
import { FIXTURES, fakeFacts, fakeFiles, world } from '../fakeWorld';

export type Rand = (n: number) => number;
export function rand(seed: number): Rand {
  let s = seed >>> 0 || 1;
  return (n) => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s % n; };
}
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[r(xs.length)];

const NAMES = FLAGS.map((f) => f.name);
const VALUES = ['0', '1', '-1', '2e-5', '1e309', 'nan', '', '""', "''", 'x070', 'lora', 'miss', 'pissa', 'state', 'bone', 'cuda', 'fla',
  'binidx', 'jsonl', 'sft', 'gpu', 'cpu', 'bf16', 'fp32', 'deepspeed_stage_2', '99999999999999999999', '0x10', '4096', '65536',
  '/dev/null', '/home/rwkv/models/rwkv7-g1a3-1.5b.pth', '/home/rwkv/RWKV-PEFT/data/demo', '../../etc/passwd', '~/x', '$HOME',
  '${N_LAYER}', '"$@"', '$(nproc)', '`id`', ';', '&&', '|', '\\', '"a b"', "'a'\"b\"", '{"r":64}', '{"r":', '[1,2]', '中文', '\u0000'];
const NOISE = ['"', "'", '\\', '{', '}', '$', '$(', '${', '\n', ' --', '=', '\u0000', ':', '- ', '[', '#', '`', '\\\n', '\r\n', '\t',
  '<<EOF\n', '\nEOF\n', ' | ', ' && ', '; ', '(', ')', 'if [ 1 ]; then\n', '\nfi\n', 'case $x in a) ', ';;', 'esac', '\uFFFD', '\uD800',
  ': &a\n', '*a', '!!binary ', '---\n', '...\n', '? ', '%YAML 1.2\n', '\u202E', '\u{1F600}'];

function shellDoc(r: Rand): string {
  const lines: string[] = [];
  if (r(2)) lines.push('#!/bin/bash');
  for (let v = r(4); v > 0; v--) lines.push(`${pick(r, ['', 'export '])}${pick(r, ['N_LAYER', 'load_model', 'CUDA_VISIBLE_DEVICES', 'x', 'lr'])}=${pick(r, VALUES)}`);
  const launcher = pick(r, ['python train.py', 'python3 train.py', 'torchrun --nproc_per_node 2 train.py', 'deepspeed train.py',
    'CUDA_VISIBLE_DEVICES=0 python train.py', 'python ../RWKV-PEFT/train.py', 'python -u train.py']);
  const words: string[] = [launcher];
  for (let f = r(24); f > 0; f--) {
    const name = r(20) ? pick(r, NAMES) : pick(r, ['peft_config', 'lora_config', 'x', '', 'n_layer=', 'head_size']);
    const value = name === 'peft_config' && r(2) ? `'${jsonDoc(r)}'` : pick(r, VALUES);
    words.push(r(6) ? `--${name} ${value}` : `--${name}=${value}`);
    if (!r(5)) words.push('\\\n ');
  }
  if (!r(4)) words.push('"$@"');
  lines.push(words.join(' '));
  if (!r(3)) lines.push(pick(r, ['fi', 'done', 'esac', '}', ')', 'echo done']));
  return lines.join(r(10) ? '\n' : '\r\n');
}

function yamlDoc(r: Rand): string {
  const lines: string[] = [];
  if (!r(4)) lines.push(pick(r, ['---', 'train:', 'args:', '- python', 'config:']));
  for (let f = r(20); f > 0; f--) {
    const indent = ' '.repeat(pick(r, [0, 0, 0, 2, 4, 1]));
    const key = r(15) ? pick(r, NAMES) : pick(r, ['? ', '<<', '&a', '*a', '"q"', '']);
    const value = r(8) ? pick(r, VALUES) : pick(r, ['[1, 2', '{r: 64}', '|\n  block', '>-', '!!int 3', '&x 1', '*x', ':', '- a']);
    lines.push(`${indent}${r(10) ? '' : '- '}${key}: ${value}`);
  }
  return lines.join('\n');
}

function jsonDoc(r: Rand, depth = 0): string {
  const keys = ['r', 'lora_alpha', 'lora_dropout', 'target_modules', 'init_lora_weights', 'svd_niter', 'miss_r', 'x', '', '中'];
  const value = (): string => depth < 3 && !r(4) ? jsonDoc(r, depth + 1)
    : pick(r, ['64', '-1', '0.05', '1e400', 'true', 'null', '"pissa"', '"a\\u0000"', '[1,', '["att","ffn"]', '{}', '"\\ud800"']);
  const members: string[] = [];
  for (let m = r(6); m > 0; m--) members.push(`"${pick(r, keys)}"${pick(r, [':', ': ', ':'])}${value()}`);
  return `{${members.join(pick(r, [',', ', ', ',\n']))}${r(8) ? '}' : ''}`;
}

function binaryDoc(r: Rand): string {
  const bytes = Buffer.alloc(r(400));
  for (let i = 0; i < bytes.length; i++) bytes[i] = r(256);
  // as an editor would decode it: UTF-8 with replacement characters, or latin1
  return r(2) ? bytes.toString('utf8') : bytes.toString('latin1');
}

function mutate(r: Rand, text: string): string {
  let t = text;
  for (let m = 1 + r(5); m > 0; m--) {
    const at = r(t.length + 1);
    switch (r(5)) {
      case 0: t = t.slice(0, at); break;                                                      // cut
      case 1: t = t.slice(0, at) + pick(r, NOISE) + t.slice(at); break;                       // insert
      case 2: t = t.slice(0, at) + t.slice(at + 1 + r(20)); break;                            // delete
      case 3: { const b = r(t.length + 1); t = t.slice(0, at) + t.slice(Math.min(at, b), Math.max(at, b)) + t.slice(at); break; }  // duplicate
      default: t = t.slice(0, at) + String.fromCharCode(r(0x3000)) + t.slice(at + 1);        // replace a character
    }
  }
  return t;
}

function fixtures(): { text: string; ext: string }[] {
  const walk = (dir: string): string[] => readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : /\.(sh|ya?ml|json)$/.test(n) && n !== 'world.json' ? [p] : [];
  });
  return walk(FIXTURES).map((p) => ({ text: readFileSync(p, 'utf8'), ext: p.slice(p.lastIndexOf('.') + 1) }));
}

const KINDS = [['sh', 'shellscript'], ['yaml', 'yaml'], ['json', 'json']] as const;

/** The n-th document of a seed: its text, language and file name (so a failure can be replayed). */
export function documentFor(seed: number, n: number, corpus = fixtures()): { text: string; languageId: string; uri: string } {
  const r = rand((seed * 0x9e3779b1) ^ (n * 0x85ebca6b) ^ 0x5bd1e995);
  let text: string, ext: string, languageId: string;
  switch (r(6)) {
    case 0: ({ text, ext } = pick(r, corpus)); text = mutate(r, text); break;
    case 1: text = shellDoc(r); ext = 'sh'; break;
    case 2: text = r(2) ? yamlDoc(r) : mutate(r, yamlDoc(r)); ext = 'yaml'; break;
    case 3: text = jsonDoc(r); ext = 'json'; break;
    case 4: text = binaryDoc(r); ext = pick(r, KINDS)[0]; break;
    default: text = mutate(r, shellDoc(r)); ext = 'sh'; break;
  }
  languageId = KINDS.find(([e]) => e === ext || (ext === 'yml' && e === 'yaml'))?.[1] ?? 'shellscript';
  if (!r(20)) languageId = pick(r, KINDS)[1];  // a document whose language and name disagree
  // one document per file name, edited from one text to the next (as the incremental shell
  // parse cache sees typing, only with edits of any size)
  return { text, languageId, uri: `file://${world.cwd}/fuzz.${ext}` };
}

export interface FuzzFigures {
  docs: number; seconds: number; docsPerSecond: number; exceptions: number; worstMs: number; worstDoc?: number;
  /** The worst document run again alone (best of 3): near worstMs when the document itself is slow, far below it when a GC pause or a busy machine made it slow. */
  worstReplayMs?: number;
  findings: number; completions: number; hovers: number; runs: number; failures: { doc: number; error: string }[];
}

/** Runs `count` documents of `seed` through the pipeline; never throws (exceptions are counted). */
export async function fuzz(count: number, seed = 1, onProgress?: (f: FuzzFigures) => void): Promise<FuzzFigures> {
  const corpus = fixtures();
  const files = fakeFiles();
  const cache = new FactsCache(fakeFacts(), 60_000, (p) => files.kind(p));
  let published: Analysis | undefined;
  const analyzer = new Analyzer(cache, (a) => { published = a; });
  const f: FuzzFigures = { docs: 0, seconds: 0, docsPerSecond: 0, exceptions: 0, worstMs: 0, findings: 0, completions: 0, hovers: 0, runs: 0, failures: [] };
  const t0 = performance.now();
  for (let n = 0; n < count; n++) {
    const start = performance.now();
    await one(n);
    const ms = performance.now() - start;
    if (ms > f.worstMs && n % 4096 !== 0) { f.worstMs = ms; f.worstDoc = n; }
    f.docs++;
    if (onProgress && n % 50_000 === 49_999) { f.seconds = (performance.now() - t0) / 1000; f.docsPerSecond = f.docs / f.seconds; onProgress(f); }
  }
  f.seconds = (performance.now() - t0) / 1000;
  f.docsPerSecond = f.docs / f.seconds;
  if (f.worstDoc !== undefined) {
    const worst = f.worstDoc;
    const counts = { ...f };
    f.worstReplayMs = Infinity;
    for (let k = 0; k < 3; k++) { const start = performance.now(); await one(worst); f.worstReplayMs = Math.min(f.worstReplayMs, performance.now() - start); }
    Object.assign(f, { findings: counts.findings, completions: counts.completions, hovers: counts.hovers, runs: counts.runs, exceptions: counts.exceptions });
  }
  for (const ext of ['sh', 'yaml', 'json']) analyzer.forget(`file://${world.cwd}/fuzz.${ext}`);
  return f;

  async function one(n: number): Promise<void> {
    const d = documentFor(seed, n, corpus);
    const r = rand((seed + 1) * 7919 + n);  // the offsets asked about: per document, so it replays
    try {
      const doc = TextDocument.create(d.uri, d.languageId, n, d.text);
      published = undefined;
      // the quick analysis (cached facts) is what each keystroke gets; every 4096th document
      // also waits for the complete facts (checkpoint headers, datasets, the plan)
      const full = analyzer.update(doc);
      const a = n % 4096 === 0 ? await full : (await Promise.race([full, nextPublish()]), published ?? await full);
      full.catch(() => {});  // superseded by the next document's update
      for (const finding of a.findings) {
        const diagnostic = toDiagnostic(doc, finding);
        for (const fix of finding.fixes ?? []) toCodeAction(doc, fix, diagnostic);
      }
      f.findings += a.findings.length;
      for (let k = 0; k < 3; k++) {
        const offset = r(d.text.length + 1);
        const items = completeAt(doc, a, offset, k ? 'en' : 'zh-CN');
        f.completions += items.length;
        if (items.length) resolveCompletion(items[r(items.length)]);
        if (hoverAt(a, offset, k === 2 ? 'zh-CN' : 'en')) f.hovers++;
      }
      f.runs += resolveRuns(a).runs.length;
    } catch (e) {
      f.exceptions++;
      if (f.failures.length < 10) f.failures.push({ doc: n, error: String((e as Error)?.stack ?? e).slice(0, 400) });
    }
  }

  function nextPublish(): Promise<void> {
    // Analyzer.update publishes the quick analysis after one await of the cached facts
    return new Promise((resolve) => setImmediate(resolve));
  }
}
