// Task type `rwkv-train`: a training run as a VS Code task (tasks.json, Run Task), in a
// pseudo-terminal that shows the engine's stderr. Protocol errors are echoed as
// "file:line:col: error: message [CODE]" so the `$rwkv-train` problem matcher can place them.
import * as vscode from 'vscode';
import type { RunController } from './runController';
import type { RunRecord } from './runs/runRecord';
import { isActive } from './runs/runRecord';

export const TASK_TYPE = 'rwkv-train';

interface RwkvTaskDefinition extends vscode.TaskDefinition {
  script: string;
  line?: number;
}

export class RwkvTaskProvider implements vscode.TaskProvider {
  constructor(private readonly controller: RunController) {}

  provideTasks(): vscode.Task[] {
    // Offer a task for each open script that calls train.py; tasks.json can name any other.
    return vscode.workspace.textDocuments
      .filter((d) => d.uri.scheme === 'file' && /\.(sh|ya?ml)$/.test(d.fileName) && /\btrain\.py\b/.test(d.getText()))
      .map((d) => this.makeTask({ type: TASK_TYPE, script: vscode.workspace.asRelativePath(d.uri) }, vscode.workspace.getWorkspaceFolder(d.uri)));
  }

  resolveTask(task: vscode.Task): vscode.Task | undefined {
    const definition = task.definition as RwkvTaskDefinition;
    if (typeof definition.script !== 'string') return undefined;
    const scope = typeof task.scope === 'object' ? task.scope : undefined;
    return this.makeTask(definition, scope);
  }

  private makeTask(definition: RwkvTaskDefinition, folder: vscode.WorkspaceFolder | undefined): vscode.Task {
    const task = new vscode.Task(definition, folder ?? vscode.TaskScope.Workspace, definition.script, TASK_TYPE,
      new vscode.CustomExecution(async () => new TrainingTerminal(this.controller, definition, folder)), ['$rwkv-train']);
    task.group = vscode.TaskGroup.Build;
    task.presentationOptions = { reveal: vscode.TaskRevealKind.Always, panel: vscode.TaskPanelKind.Dedicated };
    return task;
  }
}

class TrainingTerminal implements vscode.Pseudoterminal {
  private readonly writeEmitter = new vscode.EventEmitter<string>();
  private readonly closeEmitter = new vscode.EventEmitter<number>();
  readonly onDidWrite = this.writeEmitter.event;
  readonly onDidClose = this.closeEmitter.event;
  private runId: string | undefined;
  private readonly cleanups: (() => void)[] = [];

  constructor(private readonly controller: RunController, private readonly definition: RwkvTaskDefinition, private readonly folder: vscode.WorkspaceFolder | undefined) {}

  private write(text: string): void {
    this.writeEmitter.fire(text.replace(/\r?\n/g, '\r\n'));
  }

  async open(): Promise<void> {
    const base = this.folder?.uri ?? vscode.workspace.workspaceFolders?.[0]?.uri;
    const uri = base ? vscode.Uri.joinPath(base, this.definition.script) : vscode.Uri.file(this.definition.script);
    const manager = this.controller.manager;
    const onStderr = (id: string, text: string) => { if (id === this.runId) this.write(text); };
    const onEvent = (id: string, e: { event: string; code?: unknown; message?: unknown }) => {
      if (id !== this.runId || (e.event !== 'error' && e.event !== 'warning')) return;
      const line = (this.definition.line ?? manager.get(id)?.spec.line ?? 0) + 1;
      this.write(`\n${uri.fsPath}:${line}:1: ${e.event}: ${String(e.message ?? '')} [${String(e.code ?? '')}]\n`);
    };
    const onUpdate = (r: RunRecord) => {
      if (r.id !== this.runId || isActive(r.status)) return;
      this.write(`\n[rwkv] ${r.status}${r.exitCode !== undefined && r.exitCode !== null ? ` (exit ${r.exitCode})` : ''}\n`);
      this.closeEmitter.fire(r.status === 'completed' ? 0 : 1);
    };
    manager.on('stderr', onStderr);
    manager.on('event', onEvent);
    manager.on('update', onUpdate);
    this.cleanups.push(() => { manager.off('stderr', onStderr); manager.off('event', onEvent); manager.off('update', onUpdate); });
    const record = await this.controller.runTraining(uri, this.definition.line);
    if (!record) { this.write('[rwkv] nothing was started\n'); this.closeEmitter.fire(1); return; }
    this.runId = record.id;
    if (!isActive(record.status)) onUpdate(record);
  }

  close(): void {
    if (this.runId) void this.controller.manager.stop(this.runId);
    for (const c of this.cleanups.splice(0)) c();
  }
}
