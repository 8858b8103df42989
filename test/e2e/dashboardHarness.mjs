// Serves the dashboard page exactly as the extension builds it (same HTML generator and CSP,
// the bundled dist/webview.js and .css) with a stand-in for VS Code's acquireVsCodeApi and
// theme variables, and opens it in Debian's chromium. Shared by dashboard.e2e.mjs and
// test/bench/extension.bench.mjs.
import { createServer } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { tsImport } from 'tsx/esm/api';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const DARK = `body{--vscode-foreground:#cccccc;--vscode-editor-background:#1e1e1e;--vscode-charts-blue:#3794ff;--vscode-charts-orange:#d18616;--vscode-charts-green:#89d185;--vscode-charts-red:#f14c4c;--vscode-charts-yellow:#cca700;--vscode-charts-purple:#b180d7;--vscode-button-background:#0e639c;--vscode-button-foreground:#ffffff;--vscode-descriptionForeground:#9d9d9d;--vscode-font-family:sans-serif;--vscode-font-size:13px;--vscode-editorWidget-border:#454545}`;
const LIGHT = `body.vscode-light{--vscode-foreground:#3b3b3b;--vscode-editor-background:#ffffff;--vscode-charts-blue:#1a85ff;--vscode-charts-orange:#c27d1a;--vscode-charts-green:#388a34;--vscode-charts-red:#e51400;--vscode-charts-yellow:#bf8803;--vscode-charts-purple:#652d90;--vscode-button-background:#005fb8;--vscode-descriptionForeground:#717171;--vscode-editorWidget-border:#c8c8c8}`;

// A stand-in for the API VS Code injects into webviews: records posted messages, keeps state.
const stub = (state) => `window.__posted=[];window.__state=${JSON.stringify(state ?? null)};window.acquireVsCodeApi=()=>({postMessage:(m)=>window.__posted.push(m),getState:()=>window.__state,setState:(s)=>{window.__state=s;}});`;

/** Starts the page server. `state()` gives the state the next page load starts with. */
export async function startDashboardServer(state = () => null) {
  if (!existsSync(join(root, 'dist', 'webview.js'))) spawnSync(process.execPath, ['.ci/esbuild.mjs'], { cwd: root, stdio: 'inherit' });
  const { dashboardHtml } = await tsImport(join(root, 'extension/src/dashboard/dashboardHtml.ts'), import.meta.url);
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/') {
      const origin = `http://127.0.0.1:${server.address().port}`;
      const nonce = 'testnonce123';
      let html = dashboardHtml({ cspSource: origin, scriptUri: `${origin}/dist/webview.js`, styleUri: `${origin}/dist/webview.css`, nonce, title: 'RWKV dashboard', lang: url.searchParams.get('lang') ?? 'en' });
      html = html.replace('</head>', `<link rel="stylesheet" href="${origin}/theme.css"></head>`).replace('<body>', '<body class="vscode-dark">')
        .replace(`<script nonce="${nonce}" src`, `<script nonce="${nonce}">${stub(state())}</script><script nonce="${nonce}" src`);
      res.writeHead(200, { 'content-type': 'text/html' }).end(html);
    } else if (url.pathname === '/theme.css') {
      res.writeHead(200, { 'content-type': 'text/css' }).end(DARK + LIGHT);
    } else if (url.pathname.startsWith('/dist/') && existsSync(join(root, url.pathname))) {
      res.writeHead(200, { 'content-type': url.pathname.endsWith('.css') ? 'text/css' : 'text/javascript' }).end(readFileSync(join(root, url.pathname)));
    } else if (url.pathname === '/favicon.ico') res.writeHead(204).end();
    else res.writeHead(404).end();
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return { server, base: `http://127.0.0.1:${server.address().port}/` };
}

/** Opens the page and waits until the webview said 'ready'. */
export async function openDashboard(page, base, query = '') {
  await page.goto(base + query);
  await page.waitForFunction(() => window.__posted?.some((m) => m.type === 'ready'));
}
