// The dataset preview page in a real browser (Debian's chromium via playwright-core): the page
// the extension shows (same HTML generator and CSP, dist/preview.js + .css, acquireVsCodeApi
// stubbed), fed what the real engine addon reads from a qa-style jsonl (the loss mask) and from
// a binidx (magic_prime). Asserts the summary, the histogram's bars and the coloured tokens,
// no CSP or script error, and takes screenshots (test/screenshots/ with E2E_SCREENSHOTS=1).
import { createServer } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { tsImport } from 'tsx/esm/api';
import { ensureChromium, screenshotDir } from './tools.mjs';
import { CHROMIUM_ARGS, root } from './dashboardHarness.mjs';

const chromium = ensureChromium();
if (!chromium) { console.log('SKIP preview.e2e: no chromium (apt-get install -y chromium)'); process.exit(0); }
const addonFile = join(root, 'dist', 'bin', 'rwkv_studio.node');
const cli = join(root, 'dist', 'bin', 'rwkv-train');
if (!existsSync(addonFile) || !existsSync(cli)) { console.log('SKIP preview.e2e: the engine addon is not built (npm run build)'); process.exit(0); }
spawnSync(process.execPath, ['.ci/esbuild.mjs'], { cwd: root, stdio: 'inherit' });
const imp = (p) => tsImport(join(root, p), import.meta.url);
const { dashboardHtml } = await imp('extension/src/dashboard/dashboardHtml.ts');
const { loadAddon } = await imp('server/src/facts/addonFacts.ts');
const addon = loadAddon([addonFile]);
const { chromium: playwright } = await import('playwright-core');

// data: chat turns of different lengths, and the same made into binidx by the engine
const dir = mkdtempSync(join(tmpdir(), 'preview-e2e-'));
const lines = Array.from({ length: 300 }, (_, i) => JSON.stringify({ text: `User: question ${i}? ${'why '.repeat(i % 40)}\n\nAssistant: answer ${i}: ${'because '.repeat((i * 7) % 60)}` }));
writeFileSync(join(dir, 'chat.jsonl'), lines.join('\n') + '\n');
const made = spawnSync(cli, ['make-data', join(dir, 'chat.jsonl'), join(dir, 'chat'), '--ctx_len', '128'], { encoding: 'utf8' });
assert.equal(made.status, 0, made.stderr);
const t0 = Date.now();
const jsonl = await addon.previewDataset(join(dir, 'chat.jsonl'), { dataType: 'jsonl', ctxLen: 128, lossMask: 'qa' });
const jsonlMs = Date.now() - t0;
const t1 = Date.now();
const binidx = await addon.previewDataset(join(dir, 'chat'), { dataType: 'binidx', ctxLen: 128, magicPrime: true });
const binidxMs = Date.now() - t1;

const nonce = 'previewnonce1';
const server = createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  const origin = `http://127.0.0.1:${server.address().port}`;
  if (url.pathname === '/') {
    let html = dashboardHtml({ cspSource: origin, scriptUri: `${origin}/dist/preview.js`, styleUri: `${origin}/dist/preview.css`, nonce, title: 'Dataset', lang: 'en' });
    html = html.replace('<body>', '<body class="vscode-dark">')
      .replace(`<script nonce="${nonce}" src`, `<script nonce="${nonce}">window.__posted=[];window.acquireVsCodeApi=()=>({postMessage:(m)=>window.__posted.push(m)});</script><script nonce="${nonce}" src`);
    res.writeHead(200, { 'content-type': 'text/html' }).end(html);
  } else if (url.pathname.startsWith('/dist/') && existsSync(join(root, url.pathname))) {
    res.writeHead(200, { 'content-type': url.pathname.endsWith('.css') ? 'text/css' : 'text/javascript' }).end(readFileSync(join(root, url.pathname)));
  } else if (url.pathname === '/favicon.ico') res.writeHead(204).end();
  else res.writeHead(404).end();
});
await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
const base = `http://127.0.0.1:${server.address().port}/`;
const shots = screenshotDir(root);
const browser = await playwright.launch({ executablePath: chromium, args: CHROMIUM_ARGS });
const problems = [];
let failed = false;
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 1000 } });
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(String(e)));
  for (const [name, preview, ms] of [['jsonl', jsonl, jsonlMs], ['binidx', binidx, binidxMs]]) {
    await page.goto(base);
    await page.waitForFunction(() => window.__posted?.some((m) => m.type === 'ready'));
    await page.evaluate((m) => window.postMessage(m, '*'), { type: 'preview', preview, elapsedMs: ms });
    await page.waitForSelector('.doc');
    const text = await page.locator('.summary').innerText();
    assert.match(text, /Documents\s+300/);
    const bars = await page.evaluate(() => {
      const c = document.getElementById('hist');
      return c && c.width > 0 ? c.getContext('2d').getImageData(0, 0, c.width, c.height).data.some((v, i) => i % 4 === 3 && v > 0) : false;
    });
    assert.ok(bars, `${name}: the histogram drew something`);
    assert.equal(await page.locator('.doc').count(), 8);
    const trains = await page.locator('.doc').first().locator('.tok.trains').count();
    const ignored = await page.locator('.doc').first().locator('.tok.ignored').count();
    if (name === 'jsonl') assert.ok(trains > 0 && ignored > 0, `qa: some tokens train, the question's do not (${trains} / ${ignored})`);
    else assert.ok(trains > 0 && /--magic_prime \d/.test(text), 'pretraining: every token trains, magic_prime shown');
    assert.equal(await page.locator('.bad').count(), 0, 'every sample round-trips');
    await page.screenshot({ path: join(shots, `dataset-preview-${name}.png`), fullPage: false });
  }
  console.log(`preview.e2e: jsonl preview of 300 documents read in ${jsonlMs} ms; screenshots in ${shots}`);
  assert.deepEqual(problems, []);
} catch (e) {
  failed = true;
  console.error(e);
} finally {
  await browser.close();
  server.close();
}
process.exit(failed ? 1 : 0);
