// What one open document keeps between edits so that the per-run checks run only on the runs the
// edit changed. The shell parse cache (parse/shellParseCache.ts) hands back the very same TrainRun
// objects for the calls before an edit (runs are never mutated once made), so a run that is the
// same object, at the same index, with the same facts, gets the same findings: the per-run checks
// are pure functions of (run, runIndex, facts.runs[runIndex], facts.gpus, facts.unavailable).
// A check that reads the whole config in checkRun (RWKV024 looks up the script's variable names)
// is noticed when it does and is not reused. runChecks with or without the cache gives the same
// findings (checkCache.test.ts, random edits).
import type { FactsSnapshot, Outcome, RunFacts } from '../facts/snapshot';
import type { TrainRun } from '../parse/trainConfig';
import type { Finding } from './types';

interface RunEntry {
  runIndex: number;
  facts: RunFacts | undefined;
  gpus: FactsSnapshot['gpus'];
  unavailable: string | undefined;
  /** Per check (index into CHECKS): its findings for the run, undefined when not reusable. */
  findings: (Finding[] | undefined)[];
}

export class CheckCache {
  private entries = new Map<TrainRun, RunEntry>();
  private next = new Map<TrainRun, RunEntry>();
  /** How many (check, run) results the last runChecks reused. */
  reused = 0;

  /** Starts a pass: entries not used in it are dropped at its end. */
  begin(): void { this.next = new Map(); this.reused = 0; }
  end(): void { this.entries = this.next; this.next = new Map(); }

  /** The entry for a run in this pass (reused when still valid, else a fresh one). */
  entry(run: TrainRun, runIndex: number, facts: FactsSnapshot): RunEntry {
    let e = this.next.get(run);
    if (e) return e;
    const old = this.entries.get(run);
    const rf = facts.runs[runIndex];
    e = old && old.runIndex === runIndex && old.gpus === facts.gpus && old.unavailable === facts.unavailable && sameRunFacts(old.facts, rf)
      ? old
      : { runIndex, facts: rf, gpus: facts.gpus, unavailable: facts.unavailable, findings: [] };
    this.next.set(run, e);
    return e;
  }
}

function sameRunFacts(a: RunFacts | undefined, b: RunFacts | undefined): boolean {
  if (a === b) return true;
  if (!a || !b || a.cwd !== b.cwd || a.paths.size !== b.paths.size) return false;
  for (const [k, v] of a.paths) if (b.paths.get(k) !== v) return false;
  return sameOutcome(a.checkpoint, b.checkpoint) && sameOutcome(a.dataset, b.dataset) && sameOutcome(a.memory, b.memory)
    && sameOutcome(a.engine, b.engine) && sameOutcome(a.schedule, b.schedule) && sameOutcome(a.jsonl, b.jsonl);
}

/** The same answer: the very same value (the facts cache hands out the object it holds), or the same error. */
function sameOutcome<T>(a: Outcome<T> | undefined, b: Outcome<T> | undefined): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  if ('ok' in a) return 'ok' in b && a.ok === b.ok;
  return 'error' in b && a.error === b.error && a.unavailable === b.unavailable;
}
