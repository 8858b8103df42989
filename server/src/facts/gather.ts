// Collects, before the checks run, the facts a document's runs need: which named paths exist
// (through a FileProbe), checkpoint and dataset facts, GPUs and memory plans (through Facts).
// Every call is guarded: a failing or missing provider yields "unknown", never an exception.
import { isAbsolute, resolve } from 'node:path';
import type { Facts } from './facts';
import { isUnavailable } from './loadFacts';
import { ok, type FactsSnapshot, type Outcome, type PathKind, type RunFacts } from './snapshot';
import { effective, flagValues, launchArgv } from '../parse/resolve';
import { argText, findArg, type TrainConfig, type TrainRun } from '../parse/trainConfig';
import { LEGACY_CONFIG_KEYS } from '../peft/peftKeys';

export interface FileProbe { kind(path: string): Promise<PathKind> }

export interface GatherOptions {
  /** Directory the script runs in (absolute). */
  cwd: string;
  facts: Facts;
  files: FileProbe;
}

/** $HOME, read once: each process.env read is a call into the runtime, and this runs per path. */
const HOME = process.env.HOME ?? '';

/** Recent resolvePath answers: cwd -> path -> absolute path. */
let resolved = new Map<string, Map<string, string>>();
let resolvedCount = 0;

/** The absolute path a run's flag value names. */
export function resolvePath(cwd: string, p: string): string {
  // gathering and several checks resolve the same few paths of every run after every edit, and
  // path.resolve normalises from scratch each time: remember the recent answers
  if (resolvedCount >= 512) { resolved = new Map(); resolvedCount = 0; }
  let inCwd = resolved.get(cwd);
  if (!inCwd) resolved.set(cwd, inCwd = new Map());
  const hit = inCwd.get(p);
  if (hit !== undefined) return hit;
  const expanded = p.startsWith('~/') && HOME ? HOME + p.slice(1) : p;
  const abs = isAbsolute(expanded) ? expanded : resolve(cwd, expanded);
  inCwd.set(p, abs);
  resolvedCount++;
  return abs;
}

const LEGACY_CONFIGS = Object.entries(LEGACY_CONFIG_KEYS);

/** The paths a run refers to that should exist: [flag, absolute path][]. */
export function referencedPaths(run: TrainRun, cwd: string): { flag: string; path: string; span?: unknown }[] {
  const out: { flag: string; path: string }[] = [];
  const load = argText(run, 'load_model');
  if (load && load !== '0') out.push({ flag: 'load_model', path: resolvePath(cwd, load) });
  for (const d of dataPaths(run, cwd)) out.push({ flag: 'data_file', path: d });
  for (const [flag, { keys }] of LEGACY_CONFIGS) {
    const a = findArg(run, flag);
    const obj = a?.value?.structured ?? undefined;
    const entries = obj?.entries ?? parseLoose(a?.value?.text);
    for (const e of entries) {
      const k = keys.find((x) => x.key === e.key);
      if (k?.type === 'path' && typeof e.value === 'string' && e.value !== '') out.push({ flag: `${flag}.${e.key}`, path: resolvePath(cwd, e.value) });
    }
  }
  return out;
}

function parseLoose(text: string | undefined): { key: string; value: unknown }[] {
  if (!text) return [];
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? Object.entries(v).map(([key, value]) => ({ key, value })) : [];
  } catch { return []; }
}

/** The data files a run reads: prefix.bin and prefix.idx for binidx (suffix tolerated), else the file. */
export function dataPaths(run: TrainRun, cwd: string): string[] {
  const file = argText(run, 'data_file');
  if (!file) return [];
  const type = String(effective(run, 'data_type').value);
  const abs = resolvePath(cwd, file);
  if (type === 'binidx') {
    const prefix = abs.replace(/\.(bin|idx)$/, '');
    return [`${prefix}.bin`, `${prefix}.idx`];
  }
  return [abs];
}

export function binidxPrefix(run: TrainRun, cwd: string): string | undefined {
  const file = argText(run, 'data_file');
  if (!file || String(effective(run, 'data_type').value) !== 'binidx') return undefined;
  return resolvePath(cwd, file).replace(/\.(bin|idx)$/, '');
}

async function settle<T>(p: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: await p() };
  } catch (e) {
    const error = e instanceof Error ? e.message : String(e);
    return isUnavailable(e) ? { error, unavailable: true } : { error };
  }
}

export async function gatherFacts(config: TrainConfig, opts: GatherOptions): Promise<FactsSnapshot> {
  const snapshot: FactsSnapshot = { runs: [] };
  let unavailable: string | undefined;
  const note = <T>(o: Outcome<T>): Outcome<T> => {
    if ('error' in o && o.unavailable) unavailable = o.error;
    return o;
  };
  // GPUs first: when the engine addon is missing every facts call would fail the same way
  const gpus = config.runs.length ? note(await settle(() => opts.facts.listGpus())) : undefined;
  if (gpus && 'ok' in gpus) snapshot.gpus = gpus.ok;
  for (const run of config.runs) {
    const cwd = run.cd ? resolvePath(opts.cwd, run.cd) : opts.cwd;
    const rf: RunFacts = { cwd, paths: new Map() };
    for (const { path } of referencedPaths(run, cwd)) {
      if (rf.paths.has(path)) continue;
      // a probe that fails (or has no answer yet) leaves the path unknown, never "missing"
      const kind = await opts.files.kind(path).catch(() => undefined);
      if (kind) rf.paths.set(path, kind);
    }
    snapshot.runs.push(rf);
    if (unavailable) continue;
    const load = argText(run, 'load_model');
    if (load && load !== '0') {
      const abs = resolvePath(cwd, load);
      if (rf.paths.get(abs) === 'file') rf.checkpoint = note(await settle(() => opts.facts.inspectCheckpoint(abs)));
    }
    const prefix = binidxPrefix(run, cwd);
    if (prefix && rf.paths.get(`${prefix}.bin`) === 'file' && rf.paths.get(`${prefix}.idx`) === 'file') {
      const ctx = Number(effective(run, 'ctx_len').value);
      rf.dataset = note(await settle(() => opts.facts.inspectDataset(prefix, Number.isFinite(ctx) ? ctx : undefined)));
    }
    // the newest RWKV-PEFT's epoch is one pass over at most epoch_steps jsonl lines: count them
    const file = argText(run, 'data_file');
    if (file && String(effective(run, 'data_type').value) === 'jsonl' && findArg(run, 'peft_config')) {
      const abs = resolvePath(cwd, file);
      if (rf.paths.get(abs) === 'file') rf.jsonl = note(await settle(() => opts.facts.inspectDataset(abs)));
    }
    if (!run.args.some((a) => a.value?.dynamic)) {
      rf.memory = note(await settle(() => opts.facts.planMemory(flagValues(run))));
      rf.engine = note(await settle(() => opts.facts.checkRun(launchArgv(run))));
      const documents = ok(rf.dataset)?.documents ?? ok(rf.jsonl)?.documents;
      rf.schedule = note(await settle(() => opts.facts.planSchedule(launchArgv(run), documents)));
    }
  }
  if (unavailable) snapshot.unavailable = unavailable;
  return snapshot;
}
