// How each train.py's argparse (Python 3.11's, allow_abbrev on, as in every trainer) reads one
// command-line word: an option (exactly, by a unique prefix, or with `=value`), an ambiguous
// prefix (argparse's own error, with the candidates), or an argument. Built from the flag table
// plus `argparseOnly` (help, Lightning's Trainer arguments), so the server and the engine CLI
// (engine/core/flags.cpp, same rules) match what train.py accepts. The differential tests in
// server/test/argparse/ run the same definitions through the real python3 argparse.
import table from './flags.json';
import { FLAGS } from './flagTable';
import type { Trainer } from '../parse/trainConfig';

export const TRAINERS: readonly Trainer[] = ['peft', 'peft-legacy', 'lm-v7'];

const EXTRA = (table as unknown as { argparseOnly: Partial<Record<Trainer, string[]>> }).argparseOnly;

/** Option names (without `--`) of a trainer's parser in registration order; undefined: every trainer's. */
export function optionNames(trainer?: Trainer): readonly string[] {
  const key = trainer ?? 'any';
  let names = NAMES.get(key);
  if (!names) {
    const seen = new Set<string>(['help']);
    for (const f of FLAGS) if (!trainer || f.trainers.includes(trainer)) seen.add(f.name);
    for (const t of trainer ? [trainer] : TRAINERS) for (const n of EXTRA[t] ?? []) seen.add(n);
    names = [...seen];
    NAMES.set(key, names);
    SETS.set(key, new Set(names));
  }
  return names;
}
const NAMES = new Map<string, readonly string[]>();
const SETS = new Map<string, ReadonlySet<string>>();

export function hasOption(name: string, trainer?: Trainer): boolean {
  optionNames(trainer);
  return SETS.get(trainer ?? 'any')!.has(name);
}

/** Names argparse accepts that the table does not describe (help, Lightning Trainer arguments). */
export function isArgparseOnly(name: string, trainer?: Trainer): boolean {
  if (name === 'help') return true;
  return (trainer ? [trainer] : TRAINERS).some((t) => EXTRA[t]?.includes(name) ?? false);
}

export type Resolution =
  | { kind: 'exact'; name: string }
  | { kind: 'prefix'; name: string }
  | { kind: 'ambiguous'; candidates: string[] }
  | { kind: 'unknown' };

const RESOLVED = new Map<string, Resolution>();

/** What `--written` names in a trainer's parser (argparse `_parse_optional` + `_get_option_tuples`). */
export function resolveOption(written: string, trainer?: Trainer): Resolution {
  const key = `${trainer ?? 'any'}\u0000${written}`;
  let r = RESOLVED.get(key);
  if (r) return r;
  if (hasOption(written, trainer)) r = { kind: 'exact', name: written };
  else {
    const candidates = written === '' ? [] : optionNames(trainer).filter((n) => n.startsWith(written));
    r = candidates.length === 1 ? { kind: 'prefix', name: candidates[0]! } : candidates.length > 1 ? { kind: 'ambiguous', candidates } : { kind: 'unknown' };
  }
  if (RESOLVED.size > 5000) RESOLVED.clear();
  RESOLVED.set(key, r);
  return r;
}

/** argparse's `_negative_number_matcher` (Python 3.8-3.12): `-1` and `-.5` are values, `-1e-5` is not. */
export const NEGATIVE_NUMBER = /^-\d+$|^-\d*\.\d+$/;

/**
 * How argparse classifies a word that starts with '-' and is not a known option: 'value' when it
 * can be an argument (a negative number, '-', a word with a space), else 'option' (an unknown
 * option: it is never taken as a flag's value, and argparse reports it as unrecognized).
 */
export function dashWordKind(text: string): 'value' | 'option' {
  if (text.length < 2 || text[0] !== '-') return 'value';
  if (NEGATIVE_NUMBER.test(text)) return 'value';
  if (text.includes(' ')) return 'value';
  return 'option';
}

/** argparse's message for an ambiguous option. */
export function ambiguousMessage(written: string, candidates: readonly string[]): string {
  return `ambiguous option: ${written} could match ${candidates.map((c) => `--${c}`).join(', ')}`;
}
