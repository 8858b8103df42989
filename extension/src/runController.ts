// The commands around runs: Run Training, Stop, Resume, Open Run..., Attach to a Log, Compare
// Runs. Turns user intent into run-manager calls and run outcomes into clear messages.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import * as vscode from 'vscode';
import { DashboardPanel } from './dashboard/dashboardPanel';
import { adviceFor, type NextStep } from './runs/failureAdvice';
import { FileFollower, fileKindOf, readRunFile } from './runs/runFiles';
import { RunManager, withFlag } from './runs/runManager';
import { isActive, type RunRecord, type RunSpec } from './runs/runRecord';
import type { ServerClient } from './serverClient';
import { defaultDevice } from './settings';

export class RunController implements vscode.Disposable {
  private readonly followers = new Map<string, FileFollower>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly context: vscode.ExtensionContext,
    readonly manager: RunManager,
    private readonly server: ServerClient,
    private readonly output: vscode.OutputChannel,
  ) {
    // Whole lines only: a progress bar redrawn with \r keeps its last state; with several runs
    // at once each line says which run it is from.
    const partial = new Map<string, string>();
    const onStderr = (runId: string, text: string) => {
      const lines = ((partial.get(runId) ?? '') + text).split('\n');
      partial.set(runId, lines.pop() ?? '');
      const prefix = this.manager.activeRuns().length > 1 ? `[${this.manager.get(runId)?.spec.title ?? runId}] ` : '';
      for (const line of lines) {
        const shown = line.split('\r').filter((s) => s.trim() !== '').pop();
        if (shown !== undefined) this.output.appendLine(prefix + shown.trimEnd());
      }
    };
    const onEnded = (r: RunRecord) => {
      const rest = partial.get(r.id);
      if (isActive(r.status) || rest === undefined) return;
      partial.delete(r.id);
      const shown = rest.split('\r').filter((x) => x.trim() !== '').pop();
      if (shown !== undefined) this.output.appendLine(shown.trimEnd());
    };
    manager.on('update', onEnded);
    this.disposables.push({ dispose: () => manager.off('update', onEnded) });
    const onGarbage = (runId: string, line: string, reason: string) => this.output.appendLine(`[rwkv] ignored engine output (${reason}): ${line.slice(0, 200)}`);
    manager.on('stderr', onStderr);
    manager.on('garbage', onGarbage);
    this.disposables.push({ dispose: () => { manager.off('stderr', onStderr); manager.off('garbage', onGarbage); } });
  }

  private requireTrust(): boolean {
    if (vscode.workspace.isTrusted) return true;
    void vscode.window.showWarningMessage(
      vscode.l10n.t('RWKV Studio runs training only in a trusted folder. Diagnostics still work here.'),
      vscode.l10n.t('Manage Workspace Trust'),
    ).then((pick) => { if (pick) void vscode.commands.executeCommand('workbench.trust.manage'); });
    return false;
  }

  /** Run Training: from a lens (uri, line), the editor title, or the palette (active editor). */
  async runTraining(uri?: vscode.Uri, line?: number): Promise<RunRecord | undefined> {
    if (!this.requireTrust()) return undefined;
    const target = uri instanceof vscode.Uri ? uri : vscode.window.activeTextEditor?.document.uri;
    if (!target) {
      void vscode.window.showErrorMessage(vscode.l10n.t('Open a training script (.sh or .yaml that calls train.py) first.'));
      return undefined;
    }
    const document = vscode.workspace.textDocuments.find((d) => d.uri.toString() === target.toString());
    if (document?.isDirty) await document.save();
    let runs;
    try {
      runs = await this.server.resolveRuns(target);
    } catch (error) {
      void vscode.window.showErrorMessage(vscode.l10n.t('Cannot run {0}: {1}', basename(target.fsPath), (error as Error).message));
      return undefined;
    }
    if (runs.length === 0) {
      void vscode.window.showErrorMessage(vscode.l10n.t('No train.py call was found in {0}.', basename(target.fsPath)));
      return undefined;
    }
    let chosen = runs[0];
    if (typeof line === 'number') {
      chosen = runs.reduce((best, r) => (Math.abs(r.line - line) < Math.abs(best.line - line) ? r : best), runs[0]);
    } else if (runs.length > 1) {
      const pick = await vscode.window.showQuickPick(runs.map((r) => ({ label: vscode.l10n.t('Line {0}', r.line + 1), description: (r.branch ? `${r.branch} · ` : '') + r.argv.join(' ').slice(0, 120), run: r })), { placeHolder: vscode.l10n.t('Which train.py call?') });
      if (!pick) return undefined;
      chosen = pick.run;
    }
    if (chosen.refused) {
      void vscode.window.showErrorMessage(vscode.l10n.t('Cannot run {0}: {1}.', basename(target.fsPath), chosen.refused));
      return undefined;
    }
    let extra: string[] = [];
    if (chosen.forwardsArgs) {
      // `python train.py ... "$@"`: the script's own arguments; none is a valid answer
      const answer = await vscode.window.showInputBox({ prompt: vscode.l10n.t('{0} passes its own arguments ("$@") to train.py. Arguments to run it with (empty: none):', basename(target.fsPath)), placeHolder: '--micro_bsz 4' });
      if (answer === undefined) return undefined;
      extra = answer.split(/\s+/).filter((w) => w !== '');
    }
    if (chosen.unresolved.length) {
      const go = vscode.l10n.t('Run Anyway');
      const pick = await vscode.window.showWarningMessage(
        vscode.l10n.t('{0} uses values that cannot be known before it runs: {1}. The engine would get them as written.', basename(target.fsPath), chosen.unresolved.join(', ')),
        { modal: true }, go);
      if (pick !== go) return undefined;
    }
    let argv = [...chosen.argv, ...extra];
    const device = defaultDevice();
    if (device === 'cpu') argv = withFlag(argv, '--accelerator', 'cpu');
    return this.launch({ title: `${basename(target.fsPath)}:${chosen.line + 1}`, scriptPath: target.fsPath, line: chosen.line, trainer: chosen.trainer, argv, cwd: chosen.cwd, env: chosen.env });
  }

  /**
   * Starts a run, opens the dashboard on it, shows progress with Cancel, reports the outcome.
   * Every way to start the engine (Run Training, Resume, a notification's Resume or Run on CPU,
   * a task) comes through here, so an untrusted folder runs nothing whichever path asks.
   */
  launch(spec: RunSpec, start: (spec: RunSpec) => RunRecord = (s) => this.manager.start(s)): RunRecord | undefined {
    if (!this.requireTrust()) return undefined;
    this.output.appendLine(`[rwkv] ${spec.title}: ${spec.argv.join(' ')}  (cwd ${spec.cwd})`);
    const record = start(spec);
    this.afterStart(record);
    return record;
  }

  private afterStart(record: RunRecord): void {
    if (record.status === 'failed') { void this.reportOutcome(record); return; }
    const panel = DashboardPanel.visibleInstance;
    if (panel) panel.addShown(record.id);
    else DashboardPanel.show(this.context, this.manager, [record.id]);
    void this.progress(record);
  }

  private progress(record: RunRecord): Thenable<void> {
    return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Training {0}', record.spec.title), cancellable: true }, (progress, token) => new Promise<void>((done) => {
      let reported = 0;
      const onUpdate = (r: RunRecord) => {
        if (r.id !== record.id) return;
        const total = r.start?.total_steps;
        const step = r.lastStep?.step ?? 0;
        const pct = total ? Math.min(100, (100 * step) / total) : 0;
        const message = `${step}${total ? `/${total}` : ''}${r.lastStep?.loss !== undefined ? ` · loss ${r.lastStep.loss.toFixed(3)}` : ''}`;
        progress.report({ message, increment: total ? pct - reported : undefined });
        reported = pct;
        if (!isActive(r.status)) {
          this.manager.off('update', onUpdate);
          done();
          void this.reportOutcome(r);
        }
      };
      this.manager.on('update', onUpdate);
      token.onCancellationRequested(() => { void this.manager.stop(record.id); });
      onUpdate(this.manager.get(record.id) ?? record);
    }));
  }

  async reportOutcome(record: RunRecord): Promise<void> {
    if (record.status === 'completed') {
      void vscode.window.showInformationMessage(vscode.l10n.t('Training {0} finished: {1} steps, best loss {2}.', record.spec.title, record.stepCount, record.bestLoss?.toFixed(4) ?? '-'));
      return;
    }
    if (record.status === 'stopped') {
      const resumable = this.manager.resumeCheckpoint(record.id) !== undefined;
      const pick = await vscode.window.showInformationMessage(vscode.l10n.t('Training {0} stopped at step {1}.', record.spec.title, record.lastStep?.step ?? 0), ...(resumable ? [vscode.l10n.t('Resume')] : []));
      if (pick) this.resume(record.id);
      return;
    }
    const advice = adviceFor(record, vscode.l10n);
    if (!advice) return;
    this.output.appendLine(`[rwkv] ${record.spec.title}: ${advice.message}`);
    const labels: Record<NextStep, string> = {
      runOnCpu: vscode.l10n.t('Run on CPU'),
      showOutput: vscode.l10n.t('Show Output'),
      setEnginePath: vscode.l10n.t('Set Engine Path'),
      buildEngine: vscode.l10n.t('How to Build'),
      openScript: vscode.l10n.t('Open Script'),
      resume: vscode.l10n.t('Resume'),
    };
    const pick = await vscode.window.showErrorMessage(advice.message, ...advice.steps.map((s) => labels[s]));
    const step = advice.steps.find((s) => labels[s] === pick);
    switch (step) {
      case 'runOnCpu': this.launch({ ...record.spec, title: `${record.spec.title} (CPU)` }, (s) => this.manager.startOnCpu(s)); break;
      case 'showOutput': this.output.show(true); break;
      case 'setEnginePath': void vscode.commands.executeCommand('workbench.action.openSettings', 'rwkvStudio.enginePath'); break;
      case 'buildEngine': void vscode.env.openExternal(vscode.Uri.parse('https://github.com/rwkv-studio/rwkv-studio#quick-start')); break;
      case 'openScript': if (record.spec.scriptPath) void vscode.window.showTextDocument(vscode.Uri.file(record.spec.scriptPath), { selection: new vscode.Range(record.spec.line ?? 0, 0, record.spec.line ?? 0, 0) }); break;
      case 'resume': this.resume(record.id); break;
      default: break;
    }
  }

  private async pickRun(filter: (r: RunRecord) => boolean, placeHolder: string): Promise<string | undefined> {
    const runs = this.manager.list().filter(filter).reverse();
    if (runs.length === 0) return undefined;
    if (runs.length === 1) return runs[0].id;
    const pick = await vscode.window.showQuickPick(runs.map((r) => ({ label: r.spec.title, description: `${r.status} · ${r.lastStep?.step ?? 0} steps`, detail: new Date(r.startedAt).toLocaleString(), id: r.id })), { placeHolder });
    return pick?.id;
  }

  async stop(runId?: string): Promise<void> {
    const id = typeof runId === 'string' ? runId : await this.pickRun((r) => isActive(r.status), vscode.l10n.t('Which run to stop?'));
    if (!id) { void vscode.window.showInformationMessage(vscode.l10n.t('No training run is going.')); return; }
    const follower = this.followers.get(id);
    if (follower) {
      // A followed log belongs to someone else's process: stop following, never signal it.
      follower.stop();
      this.followers.delete(id);
      this.manager.markEnded(id, 'stopped');
      return;
    }
    await this.manager.stop(id);
  }

  async resumeCommand(runId?: string): Promise<void> {
    if (!this.requireTrust()) return;
    const id = typeof runId === 'string' ? runId : await this.pickRun((r) => r.source === 'engine' && !isActive(r.status) && r.status !== 'completed', vscode.l10n.t('Which run to resume?'));
    if (!id) { void vscode.window.showInformationMessage(vscode.l10n.t('There is no stopped run to resume.')); return; }
    this.resume(id);
  }

  resume(id: string): void {
    const record = this.manager.get(id);
    if (!record) return;
    if (this.manager.resumeCheckpoint(id) === undefined) {
      void vscode.window.showWarningMessage(vscode.l10n.t('Run {0} saved no resume checkpoint; it starts again from the beginning.', record.spec.title));
    }
    this.launch(record.spec, () => this.manager.resume(id)!);
  }

  async compare(): Promise<void> {
    const runs = this.manager.list().reverse();
    if (runs.length === 0) { void vscode.window.showInformationMessage(vscode.l10n.t('No runs yet.')); return; }
    const picks = await vscode.window.showQuickPick(runs.map((r) => ({ label: r.spec.title, description: `${r.status} · best ${r.bestLoss?.toFixed(4) ?? '-'}`, detail: new Date(r.startedAt).toLocaleString(), id: r.id })), { canPickMany: true, placeHolder: vscode.l10n.t('Runs to overlay') });
    if (!picks?.length) return;
    DashboardPanel.show(this.context, this.manager, picks.map((p) => p.id)).setShown(picks.map((p) => p.id));
  }

  /** Open Run...: a finished metrics.jsonl (ours) or loss_data.jsonl (RWKV-PEFT). */
  async openRun(file?: vscode.Uri): Promise<RunRecord | undefined> {
    const target = file instanceof vscode.Uri ? file : (await vscode.window.showOpenDialog({ canSelectMany: false, filters: { [vscode.l10n.t('Training logs')]: ['jsonl'] }, openLabel: vscode.l10n.t('Open Run') }))?.[0];
    if (!target) return undefined;
    return this.openFile(target.fsPath, fileKindOf(target.fsPath) === 'peft-loss');
  }

  /** Attach to a Log: follow a proj_dir's loss_data.jsonl or metrics.jsonl as it grows. */
  async attach(file?: vscode.Uri): Promise<RunRecord | undefined> {
    const target = file instanceof vscode.Uri ? file : (await vscode.window.showOpenDialog({ canSelectFiles: true, canSelectFolders: true, canSelectMany: false, openLabel: vscode.l10n.t('Follow') }))?.[0];
    if (!target) return undefined;
    let path = target.fsPath;
    if (existsSync(path) && statSync(path).isDirectory()) {
      const candidates = ['loss_data.jsonl', 'metrics.jsonl'].map((n) => join(path, n));
      path = candidates.find((c) => existsSync(c)) ?? candidates[0];
    }
    return this.openFile(path, true);
  }

  private openFile(path: string, follow: boolean): RunRecord | undefined {
    let text = '';
    try { if (existsSync(path)) text = readFileSync(path, 'utf8'); } catch (error) {
      void vscode.window.showErrorMessage(vscode.l10n.t('Cannot read {0}: {1}', path, (error as Error).message));
      return undefined;
    }
    if (!follow && text.trim() === '') { void vscode.window.showErrorMessage(vscode.l10n.t('{0} is empty.', path)); return undefined; }
    const { record, events } = follow ? readRunFile(path, '') : readRunFile(path, text);
    if (follow) record.status = 'running';
    this.manager.adopt(record, events);
    if (follow) {
      const follower = new FileFollower(path, (e) => this.manager.appendAdopted(record.id, e));
      this.followers.set(record.id, follower);
      follower.start();
      this.output.appendLine(`[rwkv] following ${path}`);
    }
    DashboardPanel.show(this.context, this.manager, [record.id]).addShown(record.id);
    return record;
  }

  dispose(): void {
    for (const f of this.followers.values()) f.stop();
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}
