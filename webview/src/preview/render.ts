// The preview page's markup, as strings (pure, so node tests check it): every value from the
// data is escaped; styles come from classes only (the page's CSP allows no inline style).
import type { DatasetPreview, PreviewDocument, PreviewToken } from './types';

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export function num(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** Whitespace made visible: a newline shows as ↵ and breaks the line, a tab as →. */
function visible(text: string): string {
  return escapeHtml(text).replace(/\t/g, '→').replace(/\r?\n/g, '↵<br>').replace(/ /g, '&nbsp;');
}

/** One token: alternating shades so boundaries show; trained, not trained, or not the document's. */
export function tokenHtml(t: PreviewToken, i: number): string {
  const [id, text, trains, own] = t;
  const cls = ['tok', i % 2 ? 'tok-b' : 'tok-a', own ? (trains ? 'trains' : 'ignored') : 'foreign'].join(' ');
  const what = own ? (trains ? 'trains' : 'no loss') : 'padding / next document';
  return `<span class="${cls}" title="id ${id} · ${what}">${visible(text) || '∅'}</span>`;
}

export function documentHtml(d: PreviewDocument): string {
  const rt = d.roundTrip === undefined ? '' : d.roundTrip
    ? '<span class="ok">round trip ✓</span>'
    : '<span class="bad" title="the tokens do not come back the same through the World tokenizer: made by another tokenizer?">round trip ✗</span>';
  const trained = d.trainedTokens === undefined ? '' : ` · ${num(d.trainedTokens)} of the window's targets train`;
  const more = d.shownTokens < d.length ? ` (first ${num(d.shownTokens)} shown)` : '';
  // trailing padding (id 0, not the document's) is one note, not a wall of empty tokens
  let end = d.tokens.length;
  while (end > 0 && d.tokens[end - 1][0] === 0 && d.tokens[end - 1][3] === 0) end--;
  const pad = d.tokens.length - end;
  const padding = pad ? `<span class="tok foreign padding" title="id 0 · padding">+${num(pad)} padding</span>` : '';
  return `<section class="doc"><header>Document #${num(d.index)} · ${num(d.length)} tokens${more}${trained} · ${rt}</header>` +
    `<div class="tokens">${d.tokens.slice(0, end).map(tokenHtml).join('')}${padding}</div></section>`;
}

export function summaryHtml(p: DatasetPreview, elapsedMs: number): string {
  const rows: [string, string][] = [
    ['Data', `${escapeHtml(p.path)} (${escapeHtml(p.dataType)})`],
    ['Documents', num(p.documents)],
    ['Tokens', p.tokensCounted === false ? `${num(p.tokens)} in the first ${num(p.histogram.documents)} documents` : num(p.tokens)],
    ['Length', `min ${num(p.histogram.min)} · median ${num(p.histogram.median)} · mean ${num(p.histogram.mean)} · max ${num(p.histogram.max)} tokens`],
    ['ctx_len', `${num(p.ctxLen)}: ${num(p.longerThanCtx)} document(s) longer than ctx_len + 1 are cut`],
    ['Loss', escapeHtml(p.lossMask) + (p.sftFields ? ` (fields ${p.sftFields.map(escapeHtml).join(' → ')})` : '')],
  ];
  if (p.format === 'binidx' && p.magicPrime !== undefined)
    rows.push(['Pretraining', `--magic_prime ${p.magicPrime ? num(p.magicPrime) : 'none (too little data)'} --my_exit_tokens ${num(p.myExitTokens ?? 0)} for ctx_len ${num(p.ctxLen)}`]);
  rows.push(['Read in', `${num(elapsedMs)} ms`]);
  return `<table class="summary">${rows.map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join('')}</table>`;
}

/** Bin labels for the histogram: the token range each bar counts. */
export function binLabels(h: DatasetPreview['histogram']): string[] {
  return h.counts.map((_, i) => `${num(i * h.binWidth)}–${num((i + 1) * h.binWidth - 1)}`);
}
