// The status-bar item: the newest live run's step, loss, tokens/s and GPU memory; click opens
// the dashboard. Hidden when there is nothing to say.
import * as vscode from 'vscode';
import type { RunManager } from './runs/runManager';
import { isActive, type RunRecord } from './runs/runRecord';

export function statusText(record: RunRecord): string {
  const step = record.lastStep;
  const parts: string[] = [];
  const total = record.start?.total_steps;
  parts.push(step ? `${step.step}${total ? `/${total}` : ''}` : vscode.l10n.t('starting'));
  if (step?.loss !== undefined) parts.push(`loss ${step.loss.toFixed(3)}`);
  if (step?.tokens_per_s !== undefined) parts.push(`${(step.tokens_per_s / 1000).toFixed(1)}k tok/s`);
  const used = step?.gpu_mem_used_bytes;
  const totalMem = record.start?.device?.total_memory_bytes;
  if (used !== undefined) parts.push(`${(used / 1024 ** 3).toFixed(1)}${totalMem ? `/${(totalMem / 1024 ** 3).toFixed(0)}` : ''} GiB`);
  return parts.join(' · ');
}

export class RunStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('rwkvStudio.run', vscode.StatusBarAlignment.Left, 50);
  private readonly listener = () => this.refresh();

  constructor(private readonly manager: RunManager) {
    this.item.name = 'RWKV Studio';
    this.item.command = 'rwkvStudio.openDashboard';
    manager.on('update', this.listener);
    this.refresh();
  }

  refresh(): void {
    const active = this.manager.activeRuns();
    const run = active[active.length - 1];
    if (!run) { this.item.hide(); return; }
    const more = active.length > 1 ? ` (+${active.length - 1})` : '';
    const icon = run.status === 'stopping' ? '$(debug-stop)' : '$(pulse)';
    this.item.text = `${icon} RWKV ${statusText(run)}${more}`;
    this.item.tooltip = vscode.l10n.t('{0}: {1}. Click to open the dashboard.', run.spec.title, run.status);
    this.item.show();
  }

  dispose(): void {
    this.manager.off('update', this.listener);
    this.item.dispose();
  }
}

export { isActive };
