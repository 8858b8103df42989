// Show GPUs: asks the engine (`rwkv-train gpus`), else nvidia-smi, and lists what it finds.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as vscode from 'vscode';

function run(command: string, args: string[]): Promise<{ ok: boolean; text: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 15_000, maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
      resolve({ ok: !error, text: (stdout || '') + (error && stderr ? stderr : '') });
    });
  });
}

export async function showGpus(enginePath: string, output: vscode.OutputChannel): Promise<void> {
  let text = '';
  let ok = false;
  if (existsSync(enginePath)) ({ ok, text } = await run(enginePath, ['gpus']));
  if (!ok) {
    const smi = await run('nvidia-smi', ['--query-gpu=index,name,memory.total,memory.used', '--format=csv,noheader']);
    if (smi.ok) { ok = true; text = smi.text; }
  }
  output.appendLine('[rwkv] GPUs:');
  output.appendLine(text.trim() || '(none)');
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  if (!ok || lines.length === 0) {
    const pick = await vscode.window.showWarningMessage(vscode.l10n.t('No NVIDIA GPU was found. Runs can still use the CPU (small models only).'), vscode.l10n.t('Use CPU by Default'));
    if (pick) await vscode.workspace.getConfiguration('rwkvStudio').update('defaultDevice', 'cpu', vscode.ConfigurationTarget.Workspace);
    return;
  }
  await vscode.window.showQuickPick(lines.map((l) => ({ label: l })), { placeHolder: vscode.l10n.t('GPUs on this machine') });
}
