// The edge between the checks' terms (offsets, findings, fixes) and LSP types. Only lsp/ knows LSP.
import { CodeAction, CodeActionKind, DiagnosticSeverity, type Diagnostic, type Range } from 'vscode-languageserver/node';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { Span } from '../core/span';
import type { Finding, Fix, Severity } from '../checks/types';
import type { Lang } from './i18n';
import { zhMessage, zhRelated, zhTitle } from './messagesZh';

export function toRange(doc: TextDocument, s: Span): Range {
  return { start: doc.positionAt(s.start), end: doc.positionAt(Math.max(s.start, s.end)) };
}

const SEVERITY: Record<Severity, DiagnosticSeverity> = {
  error: DiagnosticSeverity.Error,
  warning: DiagnosticSeverity.Warning,
  info: DiagnosticSeverity.Information,
  hint: DiagnosticSeverity.Hint,
};

/** `lang` zh: the message (and related messages) from the Chinese table where it has them (messagesZh.ts). */
export function toDiagnostic(doc: TextDocument, f: Finding, lang: Lang = 'en'): Diagnostic {
  const d: Diagnostic = {
    range: toRange(doc, f.span),
    severity: SEVERITY[f.severity],
    code: f.code,
    source: 'rwkv',
    message: lang === 'zh' ? zhMessage(f.code, f.message) : f.message,
  };
  if (f.related?.length) d.relatedInformation = f.related.map((r) => ({ location: { uri: doc.uri, range: toRange(doc, r.span) }, message: lang === 'zh' ? zhRelated(r.message) : r.message }));
  return d;
}

export function toCodeAction(doc: TextDocument, fix: Fix, diagnostic: Diagnostic, lang: Lang = 'en'): CodeAction {
  const action = CodeAction.create(lang === 'zh' ? zhTitle(fix.title) : fix.title, { changes: { [doc.uri]: fix.edits.map((e) => ({ range: toRange(doc, e.span), newText: e.newText })) } }, CodeActionKind.QuickFix);
  action.diagnostics = [diagnostic];
  if (fix.preferred) action.isPreferred = true;
  return action;
}
