// Entry point: wires the language client, the run manager, commands, lenses, status bar, tasks
// and the dashboard. Holds no language logic (the server has it) and no run logic (runs/).
import * as vscode from 'vscode';
import { TrainCodeLensProvider } from './codeLens';
import { DASHBOARD_VIEW_TYPE, DashboardPanel } from './dashboard/dashboardPanel';
import { showGpus } from './gpus';
import { previewDataset } from './preview/previewPanel';
import { ProbeCommand } from './probe/probeCommand';
import { RunController } from './runController';
import { RunManager } from './runs/runManager';
import { ServerClient } from './serverClient';
import { enginePath, runHistoryDirectory, serverPath } from './settings';
import { RunStatusBar } from './statusBar';
import { RwkvTaskProvider, TASK_TYPE } from './taskProvider';

let manager: RunManager | undefined;
let server: ServerClient | undefined;

/** What activate returns: lets integration tests reach the run manager. */
export interface RwkvStudioApi {
  manager: RunManager;
  controller: RunController;
}

export function activate(context: vscode.ExtensionContext): RwkvStudioApi {
  const output = vscode.window.createOutputChannel('RWKV Studio', 'rwkv-train-log');
  const runManager = new RunManager({ enginePath: () => enginePath(context.extensionPath), historyDir: runHistoryDirectory(context) });
  manager = runManager;
  // the probe command owns the kept probes the server's estimate lens uses; it is created first
  // so the server's initialize already carries them
  let probes: ProbeCommand | undefined;
  server = new ServerClient(serverPath(context.extensionPath), output, () => probes?.estimateContext());
  probes = new ProbeCommand(context, server, output);
  if (!server.available) output.appendLine('[rwkv] dist/server.js is missing: no diagnostics, and Run Training cannot resolve scripts.');
  const controller = new RunController(context, runManager, server, output);
  const lenses = new TrainCodeLensProvider(async (uri) => (await server!.resolveRuns(uri)).map((r) => r.line));
  const shellAndYaml: vscode.DocumentSelector = [{ language: 'shellscript', scheme: 'file' }, { pattern: '**/*.sh', scheme: 'file' }, { language: 'yaml', scheme: 'file' }];

  context.subscriptions.push(
    output,
    controller,
    new RunStatusBar(runManager),
    vscode.languages.registerCodeLensProvider(shellAndYaml, lenses),
    vscode.tasks.registerTaskProvider(TASK_TYPE, new RwkvTaskProvider(controller)),
    vscode.window.registerWebviewPanelSerializer(DASHBOARD_VIEW_TYPE, {
      deserializeWebviewPanel: async (panel, state) => DashboardPanel.revive(panel, context, runManager, state),
    }),
    vscode.commands.registerCommand('rwkvStudio.runTraining', (uri?: vscode.Uri, line?: number) => controller.runTraining(uri, line)),
    vscode.commands.registerCommand('rwkvStudio.stopTraining', (runId?: string) => controller.stop(runId)),
    vscode.commands.registerCommand('rwkvStudio.resumeTraining', (runId?: string) => controller.resumeCommand(runId)),
    vscode.commands.registerCommand('rwkvStudio.openDashboard', () => DashboardPanel.show(context, runManager)),
    vscode.commands.registerCommand('rwkvStudio.openRun', (uri?: vscode.Uri) => controller.openRun(uri)),
    vscode.commands.registerCommand('rwkvStudio.compareRuns', () => controller.compare()),
    vscode.commands.registerCommand('rwkvStudio.attachLog', (uri?: vscode.Uri) => controller.attach(uri)),
    vscode.commands.registerCommand('rwkvStudio.showGpus', () => showGpus(enginePath(context.extensionPath), output)),
    vscode.commands.registerCommand('rwkvStudio.showOutput', () => output.show(true)),
    vscode.commands.registerCommand('rwkvStudio.previewDataset', (arg?: unknown) => previewDataset(context, server!, arg)),
    // a lens at the top of every .jsonl (a binary .bin/.idx has no text editor: explorer menu)
    vscode.languages.registerCodeLensProvider({ pattern: '**/*.jsonl', scheme: 'file' }, {
      provideCodeLenses: (doc) => [new vscode.CodeLens(new vscode.Range(0, 0, 0, 0), { title: vscode.l10n.t('$(preview) Preview Dataset'), command: 'rwkvStudio.previewDataset', arguments: [doc.uri] })],
    }),
    vscode.commands.registerCommand('rwkvStudio.probeThroughput', (uri?: vscode.Uri | string, line?: number) => probes!.run(uri, line)),
    vscode.workspace.onDidChangeConfiguration((e) => { if (e.affectsConfiguration('rwkvStudio.targetGpu')) probes!.sendContext(); }),
    vscode.workspace.onDidGrantWorkspaceTrust(() => lenses.refresh()),
    { dispose: () => { void runManager.stopAll(); runManager.dispose(); } },
  );
  void vscode.commands.executeCommand('setContext', 'rwkvStudio.hasRuns', runManager.list().length > 0);
  // Only when it changes: 'update' fires on every step, and each setContext is a message to the
  // workbench (a flooding engine queued 10⁵ of them, 430 MiB of the extension host's memory).
  let running: boolean | undefined;
  runManager.on('update', () => {
    const now = runManager.activeRuns().length > 0;
    if (now === running) return;
    running = now;
    void vscode.commands.executeCommand('setContext', 'rwkvStudio.running', now);
  });

  // The server starts after activation returns, so activation stays fast.
  setTimeout(() => void server?.start(), 0);
  return { manager: runManager, controller };
}

export async function deactivate(): Promise<void> {
  await manager?.stopAll();
  await server?.dispose();
}
