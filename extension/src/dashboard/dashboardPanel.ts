// The dashboard panel: one webview, fed by the run manager. It does not keep its context when
// hidden; on (re)open the webview says 'ready' and gets a full replay of the shown runs.
import { writeFile } from 'node:fs/promises';
import * as vscode from 'vscode';
import { isFromWebview, type FromWebview, type StepPoint, type ToWebview } from '../../../webview/src/messages';
import type { StepEvent } from '../runs/protocol';
import type { RunManager } from '../runs/runManager';
import { dashboardHtml } from './dashboardHtml';
import { pointsOf, runsCsv, summaryOf, thinForReplay, toPoint } from './dashboardModel';

export const DASHBOARD_VIEW_TYPE = 'rwkvStudio.dashboard';
const FLUSH_MS = 200;

export class DashboardPanel implements vscode.Disposable {
  private static current: DashboardPanel | undefined;
  private shown: string[] = [];
  private readonly pending = new Map<string, StepPoint[]>();
  private runsDirty = false;
  private ready = false;
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly disposables: vscode.Disposable[] = [];

  static show(context: vscode.ExtensionContext, manager: RunManager, runIds?: string[]): DashboardPanel {
    if (DashboardPanel.current) {
      DashboardPanel.current.panel.reveal(undefined, true);
      if (runIds) DashboardPanel.current.setShown(runIds);
      return DashboardPanel.current;
    }
    const panel = vscode.window.createWebviewPanel(DASHBOARD_VIEW_TYPE, vscode.l10n.t('RWKV Training'), { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, DashboardPanel.options(context));
    DashboardPanel.current = new DashboardPanel(panel, context, manager, runIds);
    return DashboardPanel.current;
  }

  /** Restores a panel VS Code kept across a window reload (registerWebviewPanelSerializer). */
  static revive(panel: vscode.WebviewPanel, context: vscode.ExtensionContext, manager: RunManager, state: unknown): void {
    panel.webview.options = DashboardPanel.options(context);
    const shown = Array.isArray((state as { shown?: unknown })?.shown) ? ((state as { shown: unknown[] }).shown.filter((s) => typeof s === 'string') as string[]) : undefined;
    DashboardPanel.current?.dispose();
    DashboardPanel.current = new DashboardPanel(panel, context, manager, shown);
  }

  static get visibleInstance(): DashboardPanel | undefined {
    return DashboardPanel.current;
  }

  private static options(context: vscode.ExtensionContext): vscode.WebviewOptions & vscode.WebviewPanelOptions {
    return { enableScripts: true, localResourceRoots: [vscode.Uri.joinPath(context.extensionUri, 'dist')], retainContextWhenHidden: false };
  }

  private constructor(
    readonly panel: vscode.WebviewPanel,
    private readonly context: vscode.ExtensionContext,
    private readonly manager: RunManager,
    runIds: string[] | undefined,
  ) {
    this.shown = runIds ?? this.defaultShown();
    const webview = panel.webview;
    webview.html = dashboardHtml({
      cspSource: webview.cspSource,
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(context.extensionUri, 'dist', 'webview.js')).toString(),
      styleUri: webview.asWebviewUri(vscode.Uri.joinPath(context.extensionUri, 'dist', 'webview.css')).toString(),
      title: vscode.l10n.t('RWKV Training'),
      lang: vscode.env.language,
    });
    this.disposables.push(
      webview.onDidReceiveMessage((m: unknown) => { if (isFromWebview(m)) void this.onMessage(m); }),
      panel.onDidDispose(() => this.dispose()),
      panel.onDidChangeViewState(() => { if (!panel.visible) this.ready = false; }),
    );
    const onEvent = (runId: string, e: { event: string }) => {
      if (e.event !== 'step' || !this.shown.includes(runId)) return;
      let list = this.pending.get(runId);
      if (!list) this.pending.set(runId, (list = []));
      list.push(toPoint(e as StepEvent));
      this.scheduleFlush();
    };
    const onUpdate = () => { this.runsDirty = true; this.scheduleFlush(); };
    manager.on('event', onEvent);
    manager.on('update', onUpdate);
    this.disposables.push({ dispose: () => { manager.off('event', onEvent); manager.off('update', onUpdate); } });
  }

  /** Newest run first when nothing was chosen. */
  private defaultShown(): string[] {
    const runs = this.manager.list();
    return runs.length ? [runs[runs.length - 1].id] : [];
  }

  setShown(runIds: string[]): void {
    this.shown = [...new Set(runIds)];
    this.replay();
  }

  /** Adds a run to the shown ones (a new run started while the panel is open). */
  addShown(runId: string): void {
    if (this.shown.includes(runId)) return;
    this.shown = [...this.shown, runId];
    this.replay();
  }

  private post(message: ToWebview): void {
    void this.panel.webview.postMessage(message);
  }

  private replay(): void {
    this.pending.clear();
    if (!this.ready) return; // the webview asks with 'ready' when it (re)loads
    const points: Record<string, StepPoint[]> = {};
    for (const id of this.shown) points[id] = thinForReplay(pointsOf(this.manager.events(id)));
    this.post({ type: 'reset', runs: this.manager.list().map((r) => summaryOf(r)), shown: this.shown, points });
  }

  private scheduleFlush(): void {
    if (this.flushTimer || !this.ready) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      if (!this.ready) return;
      for (const [runId, points] of this.pending) if (points.length) this.post({ type: 'points', runId, points });
      this.pending.clear();
      if (this.runsDirty) {
        this.runsDirty = false;
        this.post({ type: 'runs', runs: this.manager.list().map((r) => summaryOf(r)) });
      }
    }, FLUSH_MS);
  }

  private async onMessage(m: FromWebview): Promise<void> {
    switch (m.type) {
      case 'ready':
        this.ready = true;
        this.replay();
        break;
      case 'show':
        this.shown = m.shown.filter((id) => this.manager.get(id));
        this.replay();
        break;
      case 'exportCsv':
        await this.save(m.fileName, { CSV: ['csv'] }, Buffer.from(runsCsv(this.manager.list(), (id) => this.manager.events(id), Array.isArray(m.shown) ? m.shown : [], Number(m.smoothing)), 'utf8'));
        break;
      case 'exportPng': {
        const match = /^data:image\/png;base64,(.*)$/.exec(m.dataUrl);
        if (match) await this.save(m.fileName, { PNG: ['png'] }, Buffer.from(match[1], 'base64'));
        break;
      }
      case 'runCommand':
        await vscode.commands.executeCommand(m.command === 'stop' ? 'rwkvStudio.stopTraining' : 'rwkvStudio.resumeTraining', m.runId);
        break;
    }
  }

  private async save(fileName: string, filters: Record<string, string[]>, data: Buffer): Promise<void> {
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
    const target = await vscode.window.showSaveDialog({ defaultUri: folder ? vscode.Uri.joinPath(folder, fileName) : undefined, filters });
    if (!target) return;
    await writeFile(target.fsPath, data);
    void vscode.window.showInformationMessage(vscode.l10n.t('Saved {0}', target.fsPath));
  }

  dispose(): void {
    if (DashboardPanel.current === this) DashboardPanel.current = undefined;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    for (const d of this.disposables.splice(0)) d.dispose();
    this.panel.dispose();
  }
}
