// Show GPUs: asks the engine (`rwkv-train gpus`), else nvidia-smi, and lists what it finds.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as vscode from 'vscode';
import { describeGpu, parseEngineGpus, parseNvidiaSmi, type GpuAnswer } from './gpuList';

function run(command: string, args: string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 15_000, maxBuffer: 1 << 20 }, (error, stdout) => resolve(error ? undefined : stdout));
  });
}

export async function showGpus(enginePath: string, output: vscode.OutputChannel): Promise<void> {
  let answer: GpuAnswer | undefined;
  if (existsSync(enginePath)) {
    const text = await run(enginePath, ['gpus']);
    if (text !== undefined) answer = parseEngineGpus(text);
  }
  if (!answer || answer.gpus.length === 0) {
    const smi = await run('nvidia-smi', ['--query-gpu=index,name,memory.total,memory.free', '--format=csv,noheader,nounits']);
    if (smi !== undefined && parseNvidiaSmi(smi).gpus.length) answer = parseNvidiaSmi(smi);
  }
  output.appendLine(`[rwkv] GPUs: ${answer?.gpus.length ? answer.gpus.map((g) => `${describeGpu(g).label} (${describeGpu(g).description})`).join('; ') : `none${answer?.reason ? ` (${answer.reason})` : ''}`}`);
  if (!answer || answer.gpus.length === 0) {
    const why = answer?.reason ? ` (${answer.reason})` : '';
    const pick = await vscode.window.showWarningMessage(vscode.l10n.t('No NVIDIA GPU was found{0}. Runs can still use the CPU (small models only).', why), vscode.l10n.t('Use CPU by Default'));
    if (pick) await vscode.workspace.getConfiguration('rwkvStudio').update('defaultDevice', 'cpu', vscode.ConfigurationTarget.Workspace);
    return;
  }
  await vscode.window.showQuickPick(answer.gpus.map(describeGpu), { placeHolder: vscode.l10n.t('GPUs on this machine (driver {0})', answer.driver ?? '?') });
}
