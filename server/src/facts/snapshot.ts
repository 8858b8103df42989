// The facts gathered for one document before the checks run (so the checks stay pure and
// synchronous): which referenced paths exist, checkpoint and dataset facts, GPUs and the memory
// plan per run. A missing entry means "unknown" and the checks that need it say nothing.
import type { CheckpointFacts, DatasetFacts, GpuFacts, MemoryPlan, RunCheck, RunSchedule } from './facts';

export type PathKind = 'file' | 'dir' | 'missing';
/** `unavailable`: the provider cannot answer at all (no addon, untrusted workspace), not a verdict on the file. */
export type Outcome<T> = { ok: T } | { error: string; unavailable?: boolean };

export interface RunFacts {
  /** Absolute directory the run starts in (relative paths resolve against it). */
  cwd: string;
  paths: Map<string, PathKind>;
  checkpoint?: Outcome<CheckpointFacts>;
  dataset?: Outcome<DatasetFacts>;
  memory?: Outcome<MemoryPlan>;
  /** What the bundled engine says about the run as written (RWKV026). */
  engine?: Outcome<RunCheck>;
  /** Steps and tokens as the trainer will run them (the lens). */
  schedule?: Outcome<RunSchedule>;
  /** jsonl data's facts (its document count sets the newest RWKV-PEFT's epoch). */
  jsonl?: Outcome<DatasetFacts>;
}

export interface FactsSnapshot {
  runs: RunFacts[];
  gpus?: { gpus: GpuFacts[]; reason?: string };
  /** Set when the engine addon is missing: facts-based checks are skipped, with one message. */
  unavailable?: string;
}

export function emptySnapshot(): FactsSnapshot { return { runs: [] }; }

export function ok<T>(o: Outcome<T> | undefined): T | undefined {
  return o && 'ok' in o ? o.ok : undefined;
}
