// Turns a failed run into one clear sentence and the next steps the UI offers as buttons.
// Pure, so every message is unit-tested: the caller passes vscode.l10n (zh-cn bundle) and the
// tests the English formatter below. The engine's own message and hint stay as the engine wrote them.
import type { RunRecord } from './runRecord';

export interface Localizer { t(message: string, ...args: (string | number)[]): string }

/** English: the message itself with {0}, {1}… filled in, as vscode.l10n.t does without a bundle. */
export const english: Localizer = {
  t: (message, ...args) => message.replace(/\{(\d+)\}/g, (m, i: string) => (Number(i) < args.length ? String(args[Number(i)]) : m)),
};

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

export function adviceFor(record: RunRecord, l10n: Localizer = english): Advice | undefined {
  const f = record.failure;
  if (record.status === 'completed' || record.status === 'stopped') return undefined;
  if (f?.code === 'ENGINE_MISSING') {
    return { message: l10n.t('{0} Build it with "npm run build" or set rwkvStudio.enginePath.', f.message), steps: ['setEnginePath', 'buildEngine'] };
  }
  if (f?.code === 'ENGINE_NOT_EXECUTABLE') {
    return { message: l10n.t('{0} Make it executable (chmod +x) or point rwkvStudio.enginePath at a working rwkv-train.', f.message), steps: ['setEnginePath'] };
  }
  if (f?.code === 'CWD_MISSING') {
    return { message: f.message, steps: ['openScript'] };
  }
  if (f?.code === 'E_CUDA_UNSUPPORTED') {  // a setting the GPU backend does not do yet: the CPU backend does
    return { message: l10n.t('The GPU engine cannot run this yet: {0} The same script can run on the CPU (slow, for small models and checks).', f.message), steps: ['runOnCpu', 'showOutput', 'openScript'] };
  }
  if (f && looksLikeNoGpu(f.code, f.message)) {
    return { message: l10n.t('No usable GPU: {0} You can run the same script on the CPU (slow, for small models and checks).', f.message), steps: ['runOnCpu', 'showOutput'] };
  }
  if (record.status === 'failed' && f) {
    const hint = f.hint ? ` ${f.hint}` : '';
    return { message: l10n.t('Training failed ({0}): {1}', f.code, `${f.message}${hint}`), steps: ['showOutput', 'openScript'] };
  }
  if (record.status === 'crashed' || record.status === 'failed') {
    const last = record.stderrTail.length ? l10n.t(' Last engine output: "{0}".', record.stderrTail[record.stderrTail.length - 1]) : '';
    const resumable = record.checkpoints.some((c) => c.kind === 'resume');
    return {
      message: (record.signal
        ? l10n.t('The engine was killed by {0} after {1} steps without finishing the run.', record.signal, record.stepCount)
        : l10n.t('The engine exited with code {0} after {1} steps without finishing the run.', record.exitCode ?? '?', record.stepCount))
        + last + l10n.t(' Its records are kept in the run history.'),
      steps: resumable ? ['resume', 'showOutput'] : ['showOutput'],
    };
  }
  return undefined;
}
