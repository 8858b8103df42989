// The dashboard's HTML: a strict CSP (scripts only with this nonce, styles and images from the
// extension's own folder, no network), local script and stylesheet. Pure, so the browser test
// loads exactly the page VS Code shows.
import { randomBytes } from 'node:crypto';

export interface DashboardHtmlOptions {
  /** webview.cspSource (or the test server's origin). */
  cspSource: string;
  scriptUri: string;
  styleUri: string;
  nonce?: string;
  /** Title and labels in the user's language. */
  title: string;
  lang: string;
}

export function newNonce(): string {
  return randomBytes(18).toString('base64').replace(/[^A-Za-z0-9]/g, '');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export function dashboardHtml(o: DashboardHtmlOptions): string {
  const nonce = o.nonce ?? newNonce();
  const csp = [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src ${o.cspSource}`,
    `img-src ${o.cspSource} data:`,
    `font-src ${o.cspSource}`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="${escapeHtml(o.lang)}">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${escapeHtml(o.styleUri)}">
<title>${escapeHtml(o.title)}</title>
</head>
<body>
<div id="app" data-nonce-ok="1"></div>
<script nonce="${nonce}" src="${escapeHtml(o.scriptUri)}"></script>
</body>
</html>`;
}
