// A minimal LSP client over stdio for tests and the benchmark: spawns the real built server
// (node dist/server.js --stdio) and speaks JSON-RPC with vscode-languageserver-protocol.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  createProtocolConnection, StreamMessageReader, StreamMessageWriter,
  type ProtocolConnection, type PublishDiagnosticsParams,
} from 'vscode-languageserver-protocol/node';

/** The repository root (tests and benchmarks run from it; __dirname is unreliable when loaded from ESM). */
export const ROOT = [resolve(__dirname, '../../..'), process.cwd()].find((d) => existsSync(join(d, 'server/src/main.ts'))) ?? process.cwd();
export const SERVER = join(ROOT, 'dist/server.js');

function newestSource(dir: string): number {
  let newest = 0;
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    const s = statSync(p);
    newest = Math.max(newest, s.isDirectory() ? newestSource(p) : s.mtimeMs);
  }
  return newest;
}

/** Builds dist/server.js when it is missing or older than server/src (npm test builds it first anyway). */
export function ensureBuilt(): void {
  if (existsSync(SERVER) && statSync(SERVER).mtimeMs >= newestSource(join(ROOT, 'server/src'))) return;
  const r = spawnSync(process.execPath, [join(ROOT, '.ci/esbuild.mjs')], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('building dist/server.js failed');
}

export class LspClient {
  readonly proc: ChildProcessWithoutNullStreams;
  readonly conn: ProtocolConnection;
  readonly stderr: string[] = [];
  private waiters: { uri: string; version?: number; resolve: (p: PublishDiagnosticsParams) => void }[] = [];
  readonly latest = new Map<string, PublishDiagnosticsParams>();

  /** The engine addon is turned off by default so that results do not depend on whether it was built. */
  constructor(env: NodeJS.ProcessEnv = { ...process.env, RWKV_STUDIO_NO_ADDON: '1' }, nodeArgs: string[] = []) {
    this.proc = spawn(process.execPath, [...nodeArgs, SERVER, '--stdio'], { cwd: ROOT, env, stdio: 'pipe' });
    this.proc.stderr.on('data', (d: Buffer) => this.stderr.push(d.toString()));
    this.conn = createProtocolConnection(new StreamMessageReader(this.proc.stdout), new StreamMessageWriter(this.proc.stdin));
    this.conn.onNotification('textDocument/publishDiagnostics', (p: PublishDiagnosticsParams) => {
      this.latest.set(p.uri, p);
      this.waiters = this.waiters.filter((w) => {
        if (w.uri !== p.uri || (w.version !== undefined && p.version !== w.version)) return true;
        w.resolve(p);
        return false;
      });
    });
    this.conn.onNotification('window/logMessage', () => undefined);
    this.conn.listen();
  }

  async initialize(locale = 'en', rootUri?: string, initializationOptions?: unknown): Promise<unknown> {
    const r = await this.conn.sendRequest('initialize', { processId: process.pid, rootUri: rootUri ?? null, capabilities: {}, locale, initializationOptions });
    await this.conn.sendNotification('initialized', {});
    return r;
  }

  /** Resolves with the next diagnostics for uri (at that version, if given). */
  diagnostics(uri: string, version?: number, timeoutMs = 5000): Promise<PublishDiagnosticsParams> {
    return new Promise((resolvePromise, reject) => {
      const timer = setTimeout(() => reject(new Error(`no diagnostics for ${uri}@${version} within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({ uri, version, resolve: (p) => { clearTimeout(timer); resolvePromise(p); } });
    });
  }

  /** Resolves with the first diagnostics for uri that satisfy pred (facts arrive in a second publish). */
  async diagnosticsWhere(uri: string, pred: (p: PublishDiagnosticsParams) => boolean, timeoutMs = 5000): Promise<PublishDiagnosticsParams> {
    const deadline = Date.now() + timeoutMs;
    const now = this.latest.get(uri);
    if (now && pred(now)) return now;
    for (;;) {
      const p = await this.diagnostics(uri, undefined, Math.max(1, deadline - Date.now()));
      if (pred(p)) return p;
    }
  }

  open(uri: string, languageId: string, text: string, version = 1): Promise<void> {
    return this.conn.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId, version, text } });
  }

  change(uri: string, version: number, text: string): Promise<void> {
    return this.conn.sendNotification('textDocument/didChange', { textDocument: { uri, version }, contentChanges: [{ text }] });
  }

  /** An incremental change, as an editor sends a keystroke: `text` replaces the range. */
  edit(uri: string, version: number, range: { start: { line: number; character: number }; end: { line: number; character: number } }, text: string): Promise<void> {
    return this.conn.sendNotification('textDocument/didChange', { textDocument: { uri, version }, contentChanges: [{ range, text }] });
  }

  request<R>(method: string, params: unknown): Promise<R> { return this.conn.sendRequest(method, params) as Promise<R>; }

  async close(): Promise<number | null> {
    try {
      await this.conn.sendRequest('shutdown');
      await this.conn.sendNotification('exit');
    } catch { /* already gone */ }
    const code = await new Promise<number | null>((r) => {
      if (this.proc.exitCode !== null) r(this.proc.exitCode);
      else this.proc.on('exit', (c) => r(c));
      setTimeout(() => { this.proc.kill(); r(null); }, 3000);
    });
    this.conn.dispose();
    return code;
  }
}
