// Typed access to the one flag table (flags.json). esbuild bundles the JSON into dist/server.js.
import table from './flags.json';
import type { Trainer } from '../parse/trainConfig';

export type FlagType = 'int' | 'float' | 'string' | 'bool01' | 'path' | 'json' | 'switch';

export interface FlagSpec {
  name: string;
  type: FlagType;
  default: unknown;
  trainerDefaults?: Partial<Record<Trainer, unknown>>;
  values?: string[];
  /** Allowed values where one trainer's differ from `values` (the older RWKV-PEFT's --quant 4bit/fp8). */
  trainerValues?: Partial<Record<Trainer, string[]>>;
  min?: number;
  max?: number;
  /** RWKV-7's chunked WKV kernels need the value to be a multiple of this (ctx_len: CHUNK_LEN 16); the engine's GPU check reads the same entry. */
  multipleOf?: number;
  nargs?: '*' | '+';
  trainers: Trainer[];
  engine: 'used' | 'ignored';
  deprecated?: string;
  doc: { en: string; zh: string };
}

export const FLAGS: readonly FlagSpec[] = (table as unknown as { flags: FlagSpec[] }).flags;
const byName = new Map<string, FlagSpec>(FLAGS.map((f) => [f.name, f]));

export function flagSpec(name: string): FlagSpec | undefined { return byName.get(name); }

/** The values a trainer's train.py accepts for an enum flag (undefined: any). */
export function valuesFor(spec: FlagSpec, trainer: Trainer): string[] | undefined {
  return spec.trainerValues?.[trainer] ?? spec.values;
}

export function flagDefault(spec: FlagSpec, trainer: Trainer): unknown {
  const d = spec.trainerDefaults?.[trainer];
  return d !== undefined ? d : spec.default;
}

/**
 * `--flag value` pairs for the flags whose default in this trainer's train.py differs from the
 * table's default (e.g. RWKV-LM's adam_eps 1e-18) and that the run does not give. The engine has
 * one default per flag, so a run launched for RWKV-LM carries these explicitly.
 */
export function trainerDefaultArgs(trainer: Trainer, given: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const spec of FLAGS) {
    const d = spec.trainerDefaults?.[trainer];
    if (d === undefined || given.has(spec.name)) continue;
    out.push(`--${spec.name}`, formatDefault(d));
  }
  return out;
}

/** The default as train.py's command line would spell it. */
export function formatDefault(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (typeof value === 'string') return value === '' ? '""' : value;
  if (Array.isArray(value)) return value.join(' ');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

export function docOf(spec: FlagSpec, locale: string): string {
  return locale.toLowerCase().startsWith('zh') ? spec.doc.zh : spec.doc.en;
}
