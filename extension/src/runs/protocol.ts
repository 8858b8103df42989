// Types of the run protocol (ARCHITECTURE.md "Contracts between parts"). Version 1.
// Every field is optional on purpose: readers must survive old, new and partial engines, so
// consumers check what they use instead of trusting the shape.

export const PROTOCOL_VERSION = 1;

interface EventBase {
  event: string;
  v?: number;
  time?: number;
  [extra: string]: unknown;
}

export interface StartEvent extends EventBase {
  event: 'start';
  run_id?: string;
  proj_dir?: string;
  config?: Record<string, unknown>;
  model?: { version?: string; n_layer?: number; n_embd?: number; vocab_size?: number; head_size?: number };
  device?: { backend?: string; name?: string; total_memory_bytes?: number };
  params?: { trainable?: number; total?: number };
  planned_memory_bytes?: number;
  plan?: Record<string, number>;
  total_steps?: number;
  resumed_from_step?: number;
}

export interface StepEvent extends EventBase {
  event: 'step';
  step: number;
  epoch?: number;
  loss?: number;
  lr?: number;
  tokens?: number;
  tokens_per_s?: number;
  gpu_mem_used_bytes?: number;
  gpu_mem_reserved_bytes?: number;
  grad_norm?: number;
  elapsed_s?: number;
}

export interface CheckpointEvent extends EventBase {
  event: 'checkpoint';
  path?: string;
  bytes?: number;
  step?: number;
  kind?: 'merged' | 'adapter' | 'full' | 'resume' | string;
}

export interface EpochEvent extends EventBase { event: 'epoch'; epoch?: number; steps?: number; mean_loss?: number }
export interface WarningEvent extends EventBase { event: 'warning'; code?: string; message?: string }
export interface ErrorEvent extends EventBase { event: 'error'; code?: string; message?: string; hint?: string }
export interface EndEvent extends EventBase {
  event: 'end';
  status?: 'completed' | 'stopped' | 'failed' | string;
  steps?: number;
  elapsed_s?: number;
  final_loss?: number;
}

/** An event this reader does not know; kept so nothing the engine says is lost. */
export interface UnknownEvent extends EventBase { event: string }

export type ProtocolEvent =
  | StartEvent | StepEvent | CheckpointEvent | EpochEvent | WarningEvent | ErrorEvent | EndEvent;
