// The language server: wires documents, diagnostics, completion, hover, quick fixes and
// rwkv/resolveRuns to a connection. The only module (with lsp/*) that knows LSP types.
import {
  CodeAction, CodeLensRefreshRequest, TextDocumentSyncKind, TextDocuments,
  type Connection, type Diagnostic, type InitializeResult,
} from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { FactsCache } from '../facts/cache';
import { unavailableFacts } from '../facts/loadFacts';
import type { Facts, PreviewOptions } from '../facts/facts';
import { kindOf } from '../parse/parseDocument';
import type { EstimateContext } from '../estimate/lensFigures';
import { Analyzer, type Analysis } from './analysis';
import { codeLenses, ESTIMATE_CONTEXT, parseEstimateContext } from './codeLens';
import { completeAt, resolveCompletion } from './completion';
import { toCodeAction, toDiagnostic } from './convert';
import { hoverAt } from './hover';
import { langOf } from './i18n';
import { RESOLVE_RUNS, resolveRuns } from './resolveRuns';
import { clearCwdCache } from './workspace';

const MAX_DIAGNOSTICS = 1000;

/** Client → server: { path, options } → { ok: preview } | { error, hint?, code? }. */
export const PREVIEW_DATASET = 'rwkv/previewDataset';

export interface ServerOptions { facts: Facts; factsSource: string }

export function startServer(connection: Connection, options: ServerOptions): void {
  const documents = new TextDocuments(TextDocument);
  let cache = new FactsCache(options.facts);
  let locale: string | undefined;
  let estimate: EstimateContext = { probes: [] };
  let lensRefresh = false;
  const analyzer = new Analyzer(cache, (a: Analysis) => {
    const doc = documents.get(a.uri);
    if (!doc || doc.version !== a.version) return;
    // a pathological file can produce tens of thousands of findings; the first ones are enough
    const findings = a.findings.length > MAX_DIAGNOSTICS ? [...a.findings].sort((x, y) => x.span.start - y.span.start).slice(0, MAX_DIAGNOSTICS) : a.findings;
    void connection.sendDiagnostics({ uri: a.uri, version: a.version, diagnostics: findings.map((f) => toDiagnostic(doc, f, langOf(locale))) });
  });

  connection.onInitialize((params): InitializeResult => {
    const opts = (params.initializationOptions ?? {}) as { locale?: string; workspaceTrusted?: boolean; estimate?: unknown };
    locale = opts.locale ?? params.locale;
    if (opts.estimate) estimate = parseEstimateContext(opts.estimate);
    lensRefresh = params.capabilities.workspace?.codeLens?.refreshSupport === true;
    if (opts.workspaceTrusted === false) {
      // restricted mode: do not open the workspace's checkpoints and datasets
      cache = new FactsCache(unavailableFacts('the workspace is not trusted, so its files are not opened'));
      analyzer.useCache(cache);
    }
    return {
      capabilities: {
        textDocumentSync: TextDocumentSyncKind.Incremental,
        completionProvider: { triggerCharacters: ['-', '"', '/', ' ', '=', ','], resolveProvider: true },
        hoverProvider: true,
        codeActionProvider: { codeActionKinds: ['quickfix'] },
        codeLensProvider: { resolveProvider: false },
      },
      serverInfo: { name: 'rwkv-studio-server', version: '0.1.0' },
    };
  });
  connection.onInitialized(() => connection.console.info(`RWKV Studio language server ready (facts: ${options.factsSource})`));

  const relevant = (doc: TextDocument): boolean => kindOf(doc.languageId, doc.uri) !== 'other';
  const check = (doc: TextDocument): void => {
    if (!relevant(doc)) return;
    analyzer.update(doc).catch((e: unknown) => connection.console.error(`check failed for ${doc.uri}: ${(e as Error).message}`));
  };
  // fires on open too
  documents.onDidChangeContent((e) => check(e.document));
  documents.onDidClose((e) => {
    analyzer.forget(e.document.uri);
    void connection.sendDiagnostics({ uri: e.document.uri, diagnostics: [] });
  });
  connection.onDidChangeWatchedFiles(() => {
    cache.invalidate();
    clearCwdCache();
    for (const d of documents.all()) check(d);
  });

  connection.onCompletion((p) => {
    const doc = documents.get(p.textDocument.uri);
    if (!doc || !relevant(doc)) return [];
    try { return completeAt(doc, analyzer.get(doc.uri), doc.offsetAt(p.position), locale); } catch { return []; }
  });
  connection.onCompletionResolve((item) => { try { return resolveCompletion(item); } catch { return item; } });
  connection.onHover((p) => {
    const doc = documents.get(p.textDocument.uri);
    const a = doc && analyzer.get(doc.uri);
    if (!doc || !a) return null;
    try { return hoverAt(a, doc.offsetAt(p.position), locale) ?? null; } catch { return null; }
  });
  connection.onCodeAction((p) => {
    const doc = documents.get(p.textDocument.uri);
    const a = doc && analyzer.get(doc.uri);
    if (!doc || !a) return [];
    const actions: CodeAction[] = [];
    const wanted = new Set(p.context.diagnostics.map((d) => key(d)));
    for (const f of a.findings) {
      if (!f.fixes?.length) continue;
      const d = toDiagnostic(doc, f, langOf(locale));
      if (wanted.size && !wanted.has(key(d))) continue;
      if (!wanted.size && !overlaps(d, p.range)) continue;
      for (const fix of f.fixes) if (fix.edits.length) actions.push(toCodeAction(doc, fix, d, langOf(locale)));
    }
    return actions;
  });
  connection.onCodeLens(async (p) => {
    const doc = documents.get(p.textDocument.uri);
    if (!doc || !relevant(doc)) return [];
    // the lens needs the full facts (plan, schedule, GPUs): wait for a pending lookup
    const a = await analyzer.settled(doc.uri);
    if (!a || a.version !== doc.version) return [];
    try { return codeLenses(doc, a, estimate); } catch { return []; }
  });
  connection.onNotification(ESTIMATE_CONTEXT, (params: unknown) => {
    estimate = parseEstimateContext(params);
    if (lensRefresh) void connection.sendRequest(CodeLensRefreshRequest.type).catch(() => undefined);
  });
  connection.onRequest(PREVIEW_DATASET, async (params: { path?: unknown; options?: unknown }) => {
    if (typeof params?.path !== 'string' || !params.path) return { error: 'no dataset path given' };
    const options = (params.options && typeof params.options === 'object' ? params.options : {}) as PreviewOptions;
    try {
      return { ok: await cache.view(false).facts.previewDataset(params.path, options) };
    } catch (e) {
      const err = e as Error & { hint?: string; code?: string };
      return { error: err.message, ...(err.hint ? { hint: err.hint } : {}), ...(err.code ? { code: err.code } : {}) };
    }
  });
  connection.onRequest(RESOLVE_RUNS, async (params: { uri: string }) => {
    const doc = documents.get(params.uri);
    if (doc) {
      const a = analyzer.get(doc.uri);
      return resolveRuns(a && a.version === doc.version ? a : await analyzer.update(doc));
    }
    return resolveRuns(await analyzeFile(params.uri, analyzer));
  });

  documents.listen(connection);
  connection.listen();
}

function key(d: Diagnostic): string {
  return `${String(d.code)}:${d.range.start.line}:${d.range.start.character}:${d.range.end.line}:${d.range.end.character}`;
}

function overlaps(d: Diagnostic, r: { start: { line: number; character: number }; end: { line: number; character: number } }): boolean {
  const before = (a: { line: number; character: number }, b: { line: number; character: number }): boolean => a.line < b.line || (a.line === b.line && a.character < b.character);
  return !before(d.range.end, r.start) && !before(r.end, d.range.start);
}

/** resolveRuns for a file that is not open in the editor. */
async function analyzeFile(uri: string, analyzer: Analyzer): Promise<Analysis | undefined> {
  const { readFile } = await import('node:fs/promises');
  const { filePathOf } = await import('./workspace');
  const path = filePathOf(uri);
  if (!path) return undefined;
  try {
    const text = await readFile(path, 'utf8');
    const doc = TextDocument.create(uri, /\.ya?ml$/i.test(path) ? 'yaml' : /\.json$/i.test(path) ? 'json' : 'shellscript', 0, text);
    const a = await analyzer.update(doc);
    analyzer.forget(uri);
    return a;
  } catch {
    return undefined;
  }
}
