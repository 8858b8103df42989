// The `rwkv/resolveRuns` request (ARCHITECTURE.md "Contracts between parts"): the train.py runs of
// a document as the extension launches them: trainer, expanded argv, absolute cwd, environment.
// The argv also spells out the defaults where the run's train.py differs from the engine's (the
// engine takes RWKV-PEFT's defaults; RWKV-LM's adam_eps is 1e-18).
import { launchArgv } from '../parse/resolve';
import { resolvePath } from '../facts/gather';
import type { Analysis } from './analysis';

export const RESOLVE_RUNS = 'rwkv/resolveRuns';

export interface ResolvedRun {
  line: number;
  trainer: 'peft' | 'peft-legacy' | 'lm-v7';
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  /** Values the server could not expand ($(...), unset variables): the run may not be what the file says. */
  unresolved: string[];
  /** The words after train.py exactly as bash passes them (abbreviations as written, no defaults added). */
  words: string[];
  /** The call forwards the script's arguments (`"$@"`): Run Training may ask for them (none is a valid answer). */
  forwardsArgs: boolean;
  /** Set when the server's reading is not what bash would run (CRLF line endings): do not launch; says why. */
  refused?: string;
  /** Set when the call is one of several exclusive branches (if/elif/else, case arms): which one. */
  branch?: string;
}

export function resolveRuns(a: Analysis | undefined): { runs: ResolvedRun[] } {
  if (!a) return { runs: [] };
  return {
    // (a case arm the known subject does not match never runs: not offered)
    runs: a.config.runs.filter((run) => !run.unreachable).map((run) => ({
      line: run.line,
      trainer: run.trainer,
      argv: launchArgv(run),
      cwd: run.cd ? resolvePath(a.cwd, run.cd) : a.cwd,
      env: run.env,
      unresolved: [...new Set([
        ...run.args.flatMap((x) => (x.values ?? (x.value ? [x.value] : [])).flatMap((v) => (v.dynamic ? [v.unresolved.length ? v.unresolved.map((u) => `$${u}`).join(' ') : v.text] : []))),
        ...(run.openArgs ?? []).filter((w) => !/^\$\{?[@*]\}?$/.test(w.text)).map((w) => (w.unresolved.length ? w.unresolved.map((u) => `$${u}`).join(' ') : w.text)),
      ])],
      words: (run.words ?? []).map((w) => w.text),
      forwardsArgs: run.forwardsArgs ?? false,
      ...(a.config.bashDiffers ? { refused: a.config.bashDiffers } : {}),
      ...(run.branch ? { branch: run.branch } : {}),
    })),
  };
}
