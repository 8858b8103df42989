// Starts the language server (dist/server.js) and asks it for the resolved runs of a script
// (ARCHITECTURE.md: `rwkv/resolveRuns`). The extension holds no language logic itself.
import * as vscode from 'vscode';
// Types only: the client library is loaded when the server starts, after activation returned
// (it is most of the bundle, and activation must stay fast).
import type { LanguageClient, LanguageClientOptions, ServerOptions } from 'vscode-languageclient/node';
import { SERVER_NODE_ARGS } from '../../server/src/nodeArgs';

export interface ResolvedRun {
  line: number;
  trainer: 'peft' | 'peft-legacy' | 'lm-v7' | string;
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  /** Values the server could not expand ($(...), unset variables). */
  unresolved: string[];
  /** The call forwards the script's arguments ("$@"). */
  forwardsArgs?: boolean;
  /** Why the server's reading differs from what bash would run (CRLF): never launch such a run. */
  refused?: string;
  /** Which exclusive branch (if/else, case arm) the call is in. */
  branch?: string;
}

export const RESOLVE_RUNS = 'rwkv/resolveRuns';
/** The lens's context (target GPU setting, kept probes): server/src/lsp/codeLens.ts. */
export const ESTIMATE_CONTEXT = 'rwkv/estimateContext';
/** The dataset preview (server/src/lsp/server.ts): { path, options } → { ok } | { error, hint? }. */
export const PREVIEW_DATASET = 'rwkv/previewDataset';

export class ServerClient implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private starting: Promise<void> | undefined;

  constructor(private readonly serverModule: string | undefined, private readonly output: vscode.OutputChannel,
    private readonly estimate: () => unknown = () => undefined) {}

  get available(): boolean {
    return this.serverModule !== undefined;
  }

  start(): Promise<void> {
    if (!this.serverModule) return Promise.resolve();
    this.starting ??= this.startClient(this.serverModule);
    return this.starting;
  }

  private async startClient(serverModule: string): Promise<void> {
    const { LanguageClient, TransportKind } = await import('vscode-languageclient/node');
    const serverOptions: ServerOptions = {
      run: { module: serverModule, transport: TransportKind.stdio, options: { execArgv: [...SERVER_NODE_ARGS] } },
      debug: { module: serverModule, transport: TransportKind.stdio, options: { execArgv: [...SERVER_NODE_ARGS, '--nolazy', '--inspect=6019'] } },
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [
        { scheme: 'file', language: 'shellscript' },
        { scheme: 'file', language: 'yaml' },
        { scheme: 'file', language: 'json' },
        { scheme: 'file', pattern: '**/*.sh' },
      ],
      initializationOptions: { workspaceTrusted: vscode.workspace.isTrusted, locale: vscode.env.language, estimate: this.estimate() },
    };
    this.client = new LanguageClient('rwkvStudio', 'RWKV Studio Language Server', serverOptions, clientOptions);
    await this.client.start().catch((error: unknown) => {
      this.output.appendLine(`[rwkv] the language server did not start: ${String(error)}`);
    });
  }

  /** The train.py calls of a script, resolved by the server. Throws a readable Error when it cannot. */
  async resolveRuns(uri: vscode.Uri): Promise<ResolvedRun[]> {
    if (!this.serverModule) throw new Error(vscode.l10n.t('The language server (dist/server.js) is missing from this installation, so the script cannot be resolved.'));
    await this.start();
    if (!this.client?.isRunning()) throw new Error(vscode.l10n.t('The language server is not running; see the RWKV Studio output.'));
    const answer = await this.client.sendRequest<{ runs?: unknown }>(RESOLVE_RUNS, { uri: uri.toString() });
    const runs = Array.isArray(answer?.runs) ? answer.runs : [];
    return runs.filter((r): r is ResolvedRun => !!r && typeof r === 'object' && Array.isArray((r as ResolvedRun).argv) && typeof (r as ResolvedRun).cwd === 'string')
      .map((r) => ({ ...r, line: typeof r.line === 'number' ? r.line : 0, env: r.env && typeof r.env === 'object' ? r.env : {}, argv: r.argv.map(String), unresolved: Array.isArray(r.unresolved) ? r.unresolved.map(String) : [], forwardsArgs: r.forwardsArgs === true, ...(typeof r.refused === 'string' ? { refused: r.refused } : {}), ...(typeof r.branch === 'string' ? { branch: r.branch } : {}) }));
  }

  /** The dataset preview from the engine's readers (through the server's addon). */
  async previewDataset(path: string, options: unknown): Promise<{ ok: unknown } | { error: string; hint?: string }> {
    try {
      await this.start();
      if (!this.client?.isRunning()) return { error: vscode.l10n.t('The language server is not running; see the RWKV Studio output.') };
      const a = await this.client.sendRequest<{ ok?: unknown; error?: string; hint?: string }>(PREVIEW_DATASET, { path, options });
      return a && 'ok' in a ? { ok: a.ok } : { error: String(a?.error ?? 'no answer'), ...(a?.hint ? { hint: a.hint } : {}) };
    } catch (e) {
      return { error: (e as Error).message };
    }
  }

  /** Sends the lens's context; before the server runs it goes with initialize instead. */
  sendEstimateContext(context: unknown): void {
    if (this.client?.isRunning()) void this.client.sendNotification(ESTIMATE_CONTEXT, context).catch(() => undefined);
  }

  async dispose(): Promise<void> {
    await this.client?.stop().catch(() => undefined);
  }
}
