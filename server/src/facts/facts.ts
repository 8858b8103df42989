// Facts about files and GPUs that the checks need (DESIGN.md "How data flows"). They come from
// the engine's core library through the Node addon (addonFacts.ts); checks only see this
// interface, so tests pass fakes and a missing addon degrades to "facts unknown".

export interface TensorFacts { name: string; shape: number[]; dtype: string }

export interface CheckpointFacts {
  tensors: TensorFacts[];
  version: 'x070' | 'x060' | 'x052' | 'x040' | 'unknown';
  nLayer: number;
  nEmbd: number;
  vocabSize: number;
  headSize: number;
  /** true for an adapter-only file (LoRA/PiSSA/MiSS/state weights without the base model) */
  isAdapter: boolean;
}

export interface DatasetFacts {
  tokens: number;
  documents: number;
  dtype: string;
  /** for the ctx_len asked about: make_data.py's magic_prime (0 when the data is too small) */
  magicPrime?: number;
  myExitTokens?: number;
}

export interface GpuFacts {
  index: number;
  name: string;
  computeCapability: string;
  totalBytes: number;
  freeBytes: number;
  driverVersion: string;
}

export interface MemoryPlan {
  totalBytes: number;
  /** e.g. weights, gradients, optimizer, activations, workspace */
  byCategory: Record<string, number>;
  /** which stack this plan models: 'reference' (the Python trainers) or 'engine' (rwkv-train) */
  stack?: 'reference' | 'engine';
  totalParams?: number;
  trainableParams?: number;
  /** the other stack's plan, for hovers and the lens */
  other?: MemoryPlan;
}

/**
 * How long a call trains, by the trainer's own epoch rules (engine/train/epoch_plan.h, through
 * the addon's planSchedule).
 */
export interface RunSchedule {
  totalSteps: number;
  tokensPerStep: number;
  totalTokens: number;
  /** RWKV-LM with --my_exit_tokens 0: it trains until stopped */
  untilStopped: boolean;
  epochCount: number;
  microBsz: number;
  ctxLen: number;
  accumulate: number;
  epoch: { onePass: boolean; pool: number; microBatches: number; lastBatchRows: number; optimizerSteps: number };
  /** false when the epoch depends on the data's document count and it was not known (a full pool assumed) */
  documentsKnown: boolean;
}

/**
 * Whether the bundled engine (Run Training) can train a call as written, by the trainer's own
 * flag and option rules and the GPU backend's current limits, without reading any file.
 */
export type RunCheck =
  | { ok: true; warnings: { code: string; message: string }[] }
  | { ok: false; code: string; message: string; hint: string; /** The flag it is about, without --, where the engine knows it. */ flag?: string };

/** The resolved flags of one train.py call, by flag name (without --), as the engine takes them. */
export type FlagValues = Record<string, string | number | boolean>;

/** What the dataset preview shows (engine/train/dataset_preview.h, through the addon). */
export interface PreviewOptions {
  dataType?: 'binidx' | 'jsonl' | 'sft';
  ctxLen?: number;
  lossMask?: string;
  sftFields?: string[];
  /** binidx read by RWKV-LM's magic_prime sampler: every token trains */
  magicPrime?: boolean;
  samples?: number;
  maxTokens?: number;
}

/** The preview's answer; its shape is webview/src/preview/types.ts DatasetPreview. */
export type DatasetPreview = Record<string, unknown>;

export interface Facts {
  /** Reads only the header; rejects with an Error whose message is user-facing. */
  inspectCheckpoint(path: string): Promise<CheckpointFacts>;
  /** A binidx prefix (no suffix) or a .jsonl file. */
  inspectDataset(pathOrPrefix: string, ctxLen?: number): Promise<DatasetFacts>;
  listGpus(): Promise<{ gpus: GpuFacts[]; reason?: string }>;
  planMemory(flags: FlagValues): Promise<MemoryPlan>;
  /** argv: the words after train.py as Run Training passes them (parse/resolve.ts launchArgv). */
  checkRun(argv: string[]): Promise<RunCheck>;
  /** documents: the data's document count where known (binidx header, jsonl lines). */
  planSchedule(argv: string[], documents?: number): Promise<RunSchedule>;
  /** Counts, length histogram and sampled documents with tokens and loss mask. */
  previewDataset(path: string, options: PreviewOptions): Promise<DatasetPreview>;
}
