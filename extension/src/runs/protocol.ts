// Generated from engine/core/protocol.schema.json by extension/scripts/gen-protocol.ts; do not edit.
// The types of the run protocol. Every field but `event` is optional on purpose: readers must
// survive old, new and partial engines, so consumers check what they use instead of trusting
// the shape. What the engine promises (required fields, no others) is the schema; the
// engine's tests hold it to that.

export const PROTOCOL_VERSION = 1;

interface EventBase {
  event: string;
  v?: number;
  time?: number;
  [extra: string]: unknown;
}

/** once, when the model, data and backend are ready and before the first step */
export interface StartEvent extends EventBase {
  event: 'start';
  run_id?: string; // unique per launch; a resumed run is a new launch of the same proj_dir
  proj_dir?: string; // the run's output folder
  config?: Record<string, unknown>; // the resolved flags, by flag name
  model?: {
    version?: 'x070' | 'x060'; // the RWKV architecture
    n_layer?: number;
    n_embd?: number;
    vocab_size?: number;
    head_size?: number;
    ctx_len?: number; // tokens a sample trains on
  };
  device?: {
    backend?: 'cpu' | 'cuda';
    name?: string; // the GPU's name, or CPU
    total_memory_bytes?: number; // the GPU's memory, or the machine's RAM
  };
  peft?: 'none' | 'lora' | 'pissa' | 'miss' | 'state'; // the method trained; none: full fine-tuning or pretraining
  params?: {
    trainable?: number;
    total?: number;
  };
  planned_memory_bytes?: number; // the planner's engine-stack total, the figure the editor shows; absent, with a W_PLAN warning, when the plan fails
  plan?: Record<string, number>; // the plan's bytes by category
  backend_memory_bytes?: number; // what the backend holds after loading
  data?: {
    kind?: string; // how samples are drawn, in words
    tokens?: number;
    documents?: number;
  };
  total_steps?: number; // optimizer steps this launch plans
  resumed_from_step?: number; // 0 on a fresh run
  loaded_from?: string; // the checkpoint the weights came from; absent for a new init
  epoch_begin?: number;
  rwkv_lm?: {
    train_stage?: number;
    real_bsz?: number;
    epoch_steps?: number;
    epoch_count?: number;
    warmup_steps?: number;
    adam_eps?: number;
  }; // for RWKV-LM's flags: the values its train.py derives, as its banner shows
  world_size?: number; // ranks training together (devices × num_nodes); absent on one GPU
  distributed?: {
    num_nodes?: number; // machines
    devices?: number; // ranks (GPUs) per machine
    global_batch?: number; // samples per optimizer step over all ranks: micro_bsz × world_size × accumulate_grad_batches
    zero_stage?: number; // 1: each rank keeps the AdamW state of its slice of the trained parameters
    collectives?: string; // what carries the gradients, e.g. NCCL 2.21.3
  }; // how the ranks train together; absent on one GPU
}

/** after each optimizer step */
export interface StepEvent extends EventBase {
  event: 'step';
  step: number; // optimizer steps done, resume included
  epoch?: number; // epoch_begin + the epoch within this run
  loss?: number; // the step's mean loss over its accumulated micro-batches
  lr?: number; // the learning rate this step used
  tokens?: number; // cumulative, resume included
  real_step?: number; // RWKV's count: epoch_begin × epoch_steps + this launch's steps
  tokens_per_s?: number;
  grad_norm?: number; // before clipping
  gpu_mem_used_bytes?: number; // the backend's memory in use: the GPU's, or the CPU backend's tensors
  gpu_mem_reserved_bytes?: number; // what the backend's allocator holds
  elapsed_s?: number; // seconds since this launch's first step began
  ranks?: Array<{
    rank?: number;
    gpu_mem_used_bytes?: number;
    gpu_mem_reserved_bytes?: number;
  }>; // every rank's GPU memory after this step, by rank; absent on one GPU (the fields above are rank 0's)
}

/** after a file is written */
export interface CheckpointEvent extends EventBase {
  event: 'checkpoint';
  path?: string;
  bytes?: number;
  step?: number; // optimizer steps done when it was written
  kind?: 'init' | 'pissa_init' | 'merged' | 'adapter' | 'full' | 'state' | 'resume'; // init: rwkv-init.pth, new random weights; pissa_init: PiSSA's starting adapter and residual model; merged, adapter, full, state: what a save holds; resume: what the same command continues from, rwkv-resume.pth or the rwkv-N.pth a stopped RWKV-LM stage-3 run continues from
}

/** at the end of each epoch */
export interface EpochEvent extends EventBase {
  event: 'epoch';
  epoch?: number;
  steps?: number; // optimizer steps in this epoch
  mean_loss?: number;
  step?: number; // optimizer steps done
}

/** something the run goes on despite */
export interface WarningEvent extends EventBase {
  event: 'warning';
  code?: string; // W_...
  message?: string;
  step?: number; // W_STEP_SKIPPED: the optimizer step that was not applied
  epoch?: number; // W_STEP_SKIPPED: the epoch of its batch
  samples?: unknown[]; // W_STEP_SKIPPED: the first and last sample index (within the epoch) of its batch
}

/** what stopped the run; an end event with status failed follows */
export interface ErrorEvent extends EventBase {
  event: 'error';
  code?: string; // E_...
  message?: string;
  hint?: string; // the next thing to try
  rank?: number; // the rank that failed, when several train together (its message starts "rank N: ")
}

/** the last line of every run */
export interface EndEvent extends EventBase {
  event: 'end';
  status?: 'completed' | 'stopped' | 'failed';
  steps?: number; // optimizer steps done; absent when the run failed
  elapsed_s?: number;
  final_loss?: number; // the last step's loss; absent when no step ran
  message?: string; // for RWKV-LM's --train_stage 1: what to do next
}

/** rwkv-train probe only, after its end event: the throughput it measured, which the editor's time estimate is calibrated with */
export interface ProbeEvent extends EventBase {
  event: 'probe';
  tokens_per_s?: number; // the median of the timed steps' tokens_per_s (the first steps, which warm up, left out)
  samples?: unknown[]; // the timed steps' tokens_per_s (numbers)
  steps?: number; // optimizer steps run, warm-up included
  device?: {
    backend?: 'cpu' | 'cuda';
    name?: string; // the GPU's name, or CPU
    total_memory_bytes?: number; // the GPU's memory, or the machine's RAM
  };
  config?: {
    n_layer?: number;
    n_embd?: number;
    ctx_len?: number;
    micro_bsz?: number;
    accumulate_grad_batches?: number;
    peft?: string; // none | lora | pissa | miss | state, as the start event's peft
    grad_cp?: number;
  };
  params?: {
    trainable?: number;
    total?: number;
  };
}

/** Each event's top-level numeric fields; protocolReader.ts drops a value of the wrong type. */
export const NUMERIC_FIELDS: Readonly<Record<string, readonly string[]>> = {
  start: ['planned_memory_bytes', 'backend_memory_bytes', 'total_steps', 'resumed_from_step', 'epoch_begin', 'world_size'],
  step: ['step', 'epoch', 'loss', 'lr', 'tokens', 'real_step', 'tokens_per_s', 'grad_norm', 'gpu_mem_used_bytes', 'gpu_mem_reserved_bytes', 'elapsed_s'],
  checkpoint: ['bytes', 'step'],
  epoch: ['epoch', 'steps', 'mean_loss', 'step'],
  warning: ['step', 'epoch'],
  error: ['rank'],
  end: ['steps', 'elapsed_s', 'final_loss'],
  probe: ['tokens_per_s', 'steps'],
};

/** An event this reader does not know; kept so nothing the engine says is lost. */
export interface UnknownEvent extends EventBase { event: string }

export type ProtocolEvent =
  | StartEvent | StepEvent | CheckpointEvent | EpochEvent | WarningEvent | ErrorEvent | EndEvent | ProbeEvent;
