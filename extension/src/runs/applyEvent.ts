// Folds one protocol event into a run record. Shared by live runs, reopened metrics.jsonl files
// and followed RWKV-PEFT logs, so every source shows the same summary.
import type { CheckpointEvent, EndEvent, ErrorEvent, ProtocolEvent, StartEvent, StepEvent, UnknownEvent, WarningEvent } from './protocol';
import type { RunRecord } from './runRecord';

/** `live`: the process is still running, so an end event is only noted (the exit decides). */
export function applyEvent(record: RunRecord, event: ProtocolEvent | UnknownEvent, live = false): void {
  switch (event.event) {
    case 'start': {
      record.start = event as StartEvent;
      if (record.status === 'starting') record.status = 'running';
      break;
    }
    case 'step': {
      const step = event as StepEvent;
      record.lastStep = step;
      record.stepCount++;
      if (typeof step.loss === 'number' && (record.bestLoss === undefined || step.loss < record.bestLoss)) record.bestLoss = step.loss;
      if (record.status === 'starting') record.status = 'running';
      break;
    }
    case 'checkpoint':
      record.checkpoints.push(event as CheckpointEvent);
      break;
    case 'warning': {
      const w = event as WarningEvent;
      record.warnings.push({ code: w.code, message: w.message, ...(typeof w.step === 'number' ? { step: w.step } : {}) });
      break;
    }
    case 'error': {
      const e = event as ErrorEvent;
      record.failure = { code: String(e.code ?? 'ENGINE_ERROR'), message: String(e.message ?? 'The engine reported an error.'), hint: e.hint === undefined ? undefined : String(e.hint) };
      break;
    }
    case 'end': {
      const end = event as EndEvent;
      if (typeof end.status === 'string') record.reportedEnd = end.status;
      if (live) break;
      if (end.status === 'completed' || end.status === 'stopped' || end.status === 'failed') record.status = end.status;
      break;
    }
    default:
      break; // unknown events are kept in the events file but change nothing here
  }
}
