// Messages between the extension (dashboard panel) and the webview. Both sides import these
// types, so a renamed field breaks the build instead of the chart.

/** One chart point, flattened from a protocol step event. */
export interface StepPoint {
  step: number;
  /** RWKV's own count, epoch_begin × epoch_steps + this launch's steps (what RWKV-PEFT and
   * RWKV-LM log and name their checkpoints by); absent in older event files. */
  realStep?: number;
  loss?: number;
  lr?: number;
  tokens?: number;
  tokensPerS?: number;
  memUsed?: number;
  memReserved?: number;
  /** Seconds since the run began. */
  elapsed?: number;
}

/** One rank's GPU memory at a run's latest step (runs on several GPUs). */
export interface RankMemory {
  rank: number;
  used: number;
  reserved?: number;
}

export interface RunSummary {
  id: string;
  title: string;
  status: string;
  source: string;
  steps: number;
  totalSteps?: number;
  bestLoss?: number;
  lastLoss?: number;
  durationS?: number;
  /** Device memory in bytes (the horizontal line in the memory chart). */
  totalMemory?: number;
  deviceName?: string;
  /** Ranks (GPUs) training together; absent on one GPU. */
  worldSize?: number;
  /** Every rank's memory at the latest step; absent on one GPU. */
  rankMemory?: RankMemory[];
  /** "LoRA r=32 · ctx 512 · bsz 4 · lr 1e-4": a few flags that tell runs apart. */
  config: string;
  /** Steps the engine's bad-step guard skipped (W_STEP_SKIPPED), marked on the loss chart. */
  skippedSteps?: number[];
}

export type ToWebview =
  /** points: each shown run's steps, thinned for long runs (dashboardModel.thinForReplay). */
  | { type: 'reset'; runs: RunSummary[]; shown: string[]; points: Record<string, StepPoint[]> }
  | { type: 'runs'; runs: RunSummary[] }
  | { type: 'points'; runId: string; points: StepPoint[] }
  | { type: 'show'; shown: string[] };

export type FromWebview =
  | { type: 'ready' }
  | { type: 'show'; shown: string[] }
  /** The extension writes the CSV from the full runs (the page may hold a thinned replay). */
  | { type: 'exportCsv'; fileName: string; shown: string[]; smoothing: number }
  | { type: 'exportPng'; fileName: string; dataUrl: string }
  | { type: 'runCommand'; command: 'stop' | 'resume'; runId: string };

export function isFromWebview(value: unknown): value is FromWebview {
  if (!value || typeof value !== 'object') return false;
  const type = (value as { type?: unknown }).type;
  return type === 'ready' || type === 'show' || type === 'exportCsv' || type === 'exportPng' || type === 'runCommand';
}
