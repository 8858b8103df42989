// Preview Dataset: asks the language server (rwkv/previewDataset, the engine addon's reader) and
// shows the answer in a webview (webview/src/preview), one panel per dataset.
import { basename } from 'node:path';
import * as vscode from 'vscode';
import { dashboardHtml } from '../dashboard/dashboardHtml';
import type { ServerClient } from '../serverClient';
import { requestForFile, requestFromLens, type PreviewRequest } from './previewRequest';

export const PREVIEW_VIEW_TYPE = 'rwkvStudio.datasetPreview';

export async function previewDataset(context: vscode.ExtensionContext, server: ServerClient, arg?: unknown): Promise<void> {
  const uri = arg instanceof vscode.Uri ? arg : arg === undefined ? vscode.window.activeTextEditor?.document.uri : undefined;
  const request: PreviewRequest | undefined = uri ? requestForFile(uri.fsPath) : requestFromLens(arg);
  if (!request) {
    void vscode.window.showErrorMessage(vscode.l10n.t('Choose a .jsonl file or a binidx .bin/.idx to preview.'));
    return;
  }
  if (!vscode.workspace.isTrusted) {
    void vscode.window.showWarningMessage(vscode.l10n.t('RWKV Studio opens datasets only in a trusted folder.'));
    return;
  }
  const panel = vscode.window.createWebviewPanel(PREVIEW_VIEW_TYPE, vscode.l10n.t('Dataset: {0}', basename(request.path)), { viewColumn: vscode.ViewColumn.Beside, preserveFocus: false },
    { enableScripts: true, localResourceRoots: [vscode.Uri.joinPath(context.extensionUri, 'dist')] });
  const webview = panel.webview;
  webview.html = dashboardHtml({
    cspSource: webview.cspSource,
    scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(context.extensionUri, 'dist', 'preview.js')).toString(),
    styleUri: webview.asWebviewUri(vscode.Uri.joinPath(context.extensionUri, 'dist', 'preview.css')).toString(),
    title: vscode.l10n.t('Dataset: {0}', basename(request.path)),
    lang: vscode.env.language,
  });
  // "Read in" is the server's answer time, taken when the answer arrives: the webview's own start
  // (seconds in code-server, whose iframe and service worker boot first) is not the dataset's
  const started = Date.now();
  const answer = server.previewDataset(request.path, request.options).then((a) => ({ a, ms: Date.now() - started }));
  webview.onDidReceiveMessage(async (m: { type?: string }) => {
    if (m?.type !== 'ready') return;
    const { a, ms } = await answer;
    void webview.postMessage('ok' in a ? { type: 'preview', preview: a.ok, elapsedMs: ms } : { type: 'error', message: a.hint ? `${a.error} (${a.hint})` : a.error });
  }, undefined, context.subscriptions);
}
