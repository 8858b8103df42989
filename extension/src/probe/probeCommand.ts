// "Time This Run" (the estimate lens above a train.py call, or the palette): runs
// `rwkv-train probe` on that call's flags with progress and Cancel, keeps the measured tokens/s
// (ProbeCache) and hands every kept probe to the language server, which then shows the time
// from this machine's own figure.
import { basename } from 'node:path';
import * as vscode from 'vscode';
import type { ServerClient } from '../serverClient';
import { enginePath, targetGpu } from '../settings';
import { ProbeCache } from './probeCache';
import { runProbe } from './runProbe';

export class ProbeCommand {
  readonly cache: ProbeCache;

  constructor(private readonly context: vscode.ExtensionContext, private readonly server: ServerClient, private readonly output: vscode.OutputChannel) {
    this.cache = new ProbeCache(context.globalState);
  }

  /** What the server's lens needs from the client: the target GPU setting and the kept probes. */
  estimateContext(): { targetGpu?: { name: string; totalBytes: number }; probes: unknown[] } {
    const gpu = targetGpu();
    return { ...(gpu ? { targetGpu: gpu } : {}), probes: this.cache.list() };
  }

  sendContext(): void { this.server.sendEstimateContext(this.estimateContext()); }

  /** uri: a vscode.Uri (palette, extension lens) or a string (the server's lens arguments). */
  async run(uri?: vscode.Uri | string, line?: number): Promise<void> {
    if (!vscode.workspace.isTrusted) {
      void vscode.window.showWarningMessage(vscode.l10n.t('RWKV Studio runs training only in a trusted folder. Diagnostics still work here.'));
      return;
    }
    const target = typeof uri === 'string' ? vscode.Uri.parse(uri) : uri ?? vscode.window.activeTextEditor?.document.uri;
    if (!target) {
      void vscode.window.showErrorMessage(vscode.l10n.t('Open a training script (.sh or .yaml that calls train.py) first.'));
      return;
    }
    let runs;
    try {
      runs = await this.server.resolveRuns(target);
    } catch (error) {
      void vscode.window.showErrorMessage(vscode.l10n.t('Cannot run {0}: {1}', basename(target.fsPath), (error as Error).message));
      return;
    }
    if (!runs.length) {
      void vscode.window.showErrorMessage(vscode.l10n.t('No train.py call was found in {0}.', basename(target.fsPath)));
      return;
    }
    const chosen = typeof line === 'number' ? runs.reduce((best, r) => (Math.abs(r.line - line) < Math.abs(best.line - line) ? r : best), runs[0]) : runs[0];
    if (chosen.refused) {
      void vscode.window.showErrorMessage(vscode.l10n.t('Cannot run {0}: {1}.', basename(target.fsPath), chosen.refused));
      return;
    }
    const engine = enginePath(this.context.extensionPath);
    this.output.appendLine(`[rwkv] probe: ${engine} probe ${chosen.argv.join(' ')}`);
    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Timing a few steps of {0}:{1}…', basename(target.fsPath), chosen.line + 1), cancellable: true },
      async (_progress, token) => {
        const handle = runProbe(engine, chosen, (l) => this.output.appendLine(`[rwkv-train probe] ${l}`));
        token.onCancellationRequested(() => handle.cancel());
        try {
          const probe = await handle.result;
          await this.cache.add(probe);
          this.sendContext();
          void vscode.window.showInformationMessage(vscode.l10n.t('{0} tokens/s on {1}: the time above this call now comes from this measurement.', Math.round(probe.tokens_per_s).toLocaleString(), probe.device.name));
        } catch (error) {
          const e = error as Error & { hint?: string };
          if (!token.isCancellationRequested)
            void vscode.window.showErrorMessage(vscode.l10n.t('The probe failed: {0}', e.hint ? `${e.message} (${e.hint})` : e.message));
        }
      },
    );
  }
}
