// What the extension remembers about one run, live or finished. Serializable as JSON (the
// history file); the events themselves live in an events file beside it.
import type { CheckpointEvent, StartEvent, StepEvent } from './protocol';

export type RunStatus = 'starting' | 'running' | 'completed' | 'stopping' | 'stopped' | 'failed' | 'crashed';

/** Where a run's numbers come from: our engine, a finished metrics.jsonl, or RWKV-PEFT's loss_data.jsonl. */
export type RunSource = 'engine' | 'metrics-file' | 'peft-loss-log';

export interface RunSpec {
  /** Shown in lists: usually "script.sh:12". */
  title: string;
  scriptPath?: string;
  /** 0-based line of the train.py call in the script. */
  line?: number;
  trainer?: string;
  /** The flags after train.py, as the server resolved them. */
  argv: string[];
  cwd: string;
  /** Only the variables the script exports; the rest of the environment is inherited. */
  env: Record<string, string>;
}

export interface RunFailure {
  code: string;
  message: string;
  hint?: string;
}

export interface RunRecord {
  id: string;
  source: RunSource;
  spec: RunSpec;
  status: RunStatus;
  startedAt: number; // unix ms
  endedAt?: number;
  pid?: number;
  exitCode?: number | null;
  signal?: string | null;
  start?: StartEvent;
  lastStep?: StepEvent;
  bestLoss?: number;
  stepCount: number;
  checkpoints: CheckpointEvent[];
  warnings: { code?: string; message?: string; step?: number }[];
  failure?: RunFailure;
  garbageLines: number;
  /** Last lines of the engine's stderr (the full stream goes to the output channel). */
  stderrTail: string[];
  /** JSON Lines file holding every event of this run (for replay and for reopening). */
  eventsFile?: string;
  /** The file followed or opened (metrics.jsonl or loss_data.jsonl). */
  sourceFile?: string;
  resumedFromRunId?: string;
  /** The status the engine's end event announced; final once the process has exited. */
  reportedEnd?: string;
}

export function isActive(status: RunStatus): boolean {
  return status === 'starting' || status === 'running' || status === 'stopping';
}

export function newRunId(now = new Date()): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  const stamp = `${now.getUTCFullYear()}${pad(now.getUTCMonth() + 1)}${pad(now.getUTCDate())}-${pad(now.getUTCHours())}${pad(now.getUTCMinutes())}${pad(now.getUTCSeconds())}`;
  return `run-${stamp}-${Math.random().toString(36).slice(2, 6)}`;
}

export function emptyRecord(id: string, source: RunSource, spec: RunSpec, startedAt = Date.now()): RunRecord {
  return { id, source, spec, status: 'starting', startedAt, stepCount: 0, checkpoints: [], warnings: [], garbageLines: 0, stderrTail: [] };
}
