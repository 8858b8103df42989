// Runs `rwkv-train probe [flags]` (a few timed steps, no file written) and answers with its
// `probe` event, or an Error carrying the engine's error event. Pure Node (no vscode), so the
// tests run it against the real engine.
import { spawn } from 'node:child_process';
import { parseProtocolLine } from '../runs/protocolReader';

export interface ProbeEvent {
  event: 'probe';
  time: number;
  tokens_per_s: number;
  samples: number[];
  steps: number;
  device: { backend: string; name: string; total_memory_bytes?: number };
  config: { n_layer: number; n_embd: number; ctx_len: number; micro_bsz: number; accumulate_grad_batches: number; peft: string; grad_cp: number };
  params: { trainable: number; total: number };
}

export class ProbeError extends Error {
  constructor(message: string, readonly code?: string, readonly hint?: string) { super(message); }
}

export interface ProbeRun { argv: string[]; cwd: string; env: Record<string, string> }

export interface ProbeHandle { result: Promise<ProbeEvent>; cancel(): void }

/** stderr lines (the engine's log and progress bar) go to `log`. */
export function runProbe(enginePath: string, run: ProbeRun, log: (line: string) => void = () => undefined): ProbeHandle {
  const child = spawn(enginePath, ['probe', ...run.argv], { cwd: run.cwd, env: { ...process.env, ...run.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let cancelled = false;
  const result = new Promise<ProbeEvent>((resolve, reject) => {
    let buffer = '', probe: ProbeEvent | undefined, error: ProbeError | undefined;
    const take = (line: string): void => {
      const item = parseProtocolLine(line);
      if (item.kind !== 'event') return;
      const e = item.event as unknown as Record<string, unknown>;
      if (e.event === 'probe' && typeof e.tokens_per_s === 'number') probe = e as unknown as ProbeEvent;
      if (e.event === 'error') error = new ProbeError(String(e.message ?? 'the probe failed'), String(e.code ?? ''), String(e.hint ?? ''));
    };
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      buffer += d;
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      lines.forEach(take);
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => { for (const l of d.split(/[\r\n]+/)) if (l.trim()) log(l); });
    child.on('error', (e) => reject(new ProbeError(`cannot start ${enginePath}: ${e.message}`)));
    child.on('close', (code) => {
      if (buffer) take(buffer);
      if (probe && code === 0) resolve(probe);
      else if (cancelled) reject(new ProbeError('the probe was cancelled'));
      else reject(error ?? new ProbeError(`rwkv-train probe exited with code ${code} without a result`));
    });
  });
  return { result, cancel: () => { cancelled = true; child.kill('SIGTERM'); } };
}
