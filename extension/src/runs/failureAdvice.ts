// Turns a failed run into one clear sentence and the next steps the UI offers as buttons.
// Pure, so every message is unit-tested.
import type { RunRecord } from './runRecord';

export type NextStep = 'runOnCpu' | 'showOutput' | 'setEnginePath' | 'buildEngine' | 'openScript' | 'resume';

export interface Advice {
  message: string;
  steps: NextStep[];
}

// Underscores count as separators (codes like E_NO_GPU), so no \b here.
const NO_GPU = /(?:^|[^a-z])(no[ _-]?gpus?|no[ _-]?cuda|cuda[ _-]?unavailable|no cuda device|cuda driver|nvidia driver|nvml|libcuda)(?:$|[^a-z])/i;

export function looksLikeNoGpu(code: string, message: string): boolean {
  return NO_GPU.test(code) || NO_GPU.test(message);
}

export function adviceFor(record: RunRecord): Advice | undefined {
  const f = record.failure;
  if (record.status === 'completed' || record.status === 'stopped') return undefined;
  if (f?.code === 'ENGINE_MISSING') {
    return { message: `${f.message} Build it with "npm run build" or set rwkvStudio.enginePath.`, steps: ['setEnginePath', 'buildEngine'] };
  }
  if (f?.code === 'ENGINE_NOT_EXECUTABLE') {
    return { message: `${f.message} Make it executable (chmod +x) or point rwkvStudio.enginePath at a working rwkv-train.`, steps: ['setEnginePath'] };
  }
  if (f?.code === 'CWD_MISSING') {
    return { message: f.message, steps: ['openScript'] };
  }
  if (f && looksLikeNoGpu(f.code, f.message)) {
    return { message: `No usable GPU: ${f.message} You can run the same script on the CPU (slow, for small models and checks).`, steps: ['runOnCpu', 'showOutput'] };
  }
  if (record.status === 'failed' && f) {
    const hint = f.hint ? ` ${f.hint}` : '';
    return { message: `Training failed (${f.code}): ${f.message}${hint}`, steps: ['showOutput', 'openScript'] };
  }
  if (record.status === 'crashed' || record.status === 'failed') {
    const how = record.signal ? `was killed by ${record.signal}` : `exited with code ${record.exitCode ?? 'unknown'}`;
    const last = record.stderrTail.length ? ` Last engine output: "${record.stderrTail[record.stderrTail.length - 1]}".` : '';
    const resumable = record.checkpoints.some((c) => c.kind === 'resume');
    return {
      message: `The engine ${how} after ${record.stepCount} steps without finishing the run.${last} Its records are kept in the run history.`,
      steps: resumable ? ['resume', 'showOutput'] : ['showOutput'],
    };
  }
  return undefined;
}
