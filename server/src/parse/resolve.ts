// The effective flags of a run: what train.py would see after defaults, typed per the flag table.
// Used by checks (effective values), hover, planMemory's FlagValues and rwkv/resolveRuns' argv.
import { FLAGS, flagDefault, flagSpec, trainerDefaultArgs } from '../flags/flagTable';
import type { FlagValues } from '../facts/facts';
import { findArg, type TrainRun } from './trainConfig';

export function effective(run: TrainRun, name: string): { value: unknown; given: boolean } {
  const arg = findArg(run, name);
  const spec = flagSpec(name);
  if (arg) {
    if (spec?.type === 'switch') return { value: true, given: true };
    if (arg.values && spec?.nargs) return { value: arg.values.map((v) => v.text), given: true };
    if (arg.value) return { value: typed(arg.value.text, spec?.type), given: true };
  }
  return { value: spec ? flagDefault(spec, run.trainer) : undefined, given: false };
}

function typed(text: string, type: string | undefined): unknown {
  if (type === 'int' || type === 'float' || type === 'bool01') {
    const n = Number(text);
    return text.trim() !== '' && Number.isFinite(n) ? n : text;
  }
  return text;
}

/** Every flag of the run's trainer, given or default (JSON flags as text), for Facts.planMemory. */
export function flagValues(run: TrainRun): FlagValues {
  const out: FlagValues = {};
  for (const spec of FLAGS) {
    if (!spec.trainers.includes(run.trainer)) continue;
    const { value } = effective(run, spec.name);
    if (value === null || value === undefined) continue;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') out[spec.name] = value;
    else out[spec.name] = Array.isArray(value) ? value.join(' ') : JSON.stringify(value);
  }
  return out;
}

/** The words after train.py, expanded, as the engine CLI takes them (rwkv/resolveRuns). */
/**
 * The argv Run Training gives the engine for a run: the script's words after train.py, plus the
 * defaults of its train.py that differ from the engine's (RWKV-LM's adam_eps 1e-18).
 */
export function launchArgv(run: TrainRun): string[] {
  return [...argvOf(run), ...trainerDefaultArgs(run.trainer, new Set(run.args.map((x) => x.name)))];
}

export function argvOf(run: TrainRun): string[] {
  const argv: string[] = [];
  for (const a of run.args) {
    argv.push(`--${a.name}`);
    if (a.values) for (const v of a.values) argv.push(v.text);
    else if (a.value) argv.push(a.value.text);
  }
  for (const s of run.strays) argv.push(s.text);
  return argv;
}
