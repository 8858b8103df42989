// The dashboard webview's Content Security Policy, attacked in Chromium: an inline <script>, a
// script from the page's own origin and one from a remote host (neither with the nonce), an
// inline event handler and eval() (even from a nonce'd script) are all refused, each with a securitypolicyviolation, while
// the page itself (its nonce'd scripts) runs. The HTML is extension/src/dashboard/dashboardHtml.ts,
// as the extension sends it (served by test/e2e/dashboardHarness.mjs).
import assert from 'node:assert/strict';
import { CHROMIUM_ARGS, openDashboard, startDashboardServer } from './dashboardHarness.mjs';
import { ensureChromium } from './tools.mjs';

const chromium = ensureChromium();
if (!chromium) { console.log('SKIP csp.e2e: no chromium (apt-get install -y chromium)'); process.exit(0); }
const { chromium: playwright } = await import('playwright-core');
const { server, base } = await startDashboardServer();
const browser = await playwright.launch({ executablePath: chromium, args: CHROMIUM_ARGS });
let failed = false;
try {
  const page = await browser.newPage();
  await openDashboard(page, base);
  assert.equal(await page.evaluate(() => typeof window.rwkvDashboard), 'object', 'the nonce\'d scripts ran');
  const result = await page.evaluate(async (origin) => {
    const violations = [];
    document.addEventListener('securitypolicyviolation', (e) => violations.push(`${e.effectiveDirective} ${e.blockedURI}`));
    const add = (setup) => { const s = document.createElement('script'); setup(s); document.head.appendChild(s); };
    add((s) => { s.textContent = 'window.__inline = 1'; });
    add((s) => { s.src = `${origin}dist/webview.js?again`; });
    add((s) => { s.src = 'https://cdn.example.com/evil.js'; });
    const img = document.createElement('img');
    img.setAttribute('onerror', 'window.__handler = 1');
    img.src = 'data:,not-an-image';
    document.body.appendChild(img);
    // eval from the page's own (nonce'd) code, in a later task: Chromium lets eval through
    // while DevTools (this evaluate()) is running code
    setTimeout(() => add((s) => { s.setAttribute('nonce', 'testnonce123'); s.textContent = "window.__nonced = 1; try { eval('window.__eval = 1'); } catch (e) { window.__evalError = e.name; }"; }), 0);
    await new Promise((ok) => setTimeout(ok, 500));
    return { violations, inline: window.__inline, handler: window.__handler, nonced: window.__nonced, evalRan: window.__eval === 1, evalError: window.__evalError };
  }, base);
  assert.equal(result.inline, undefined, 'an inline script without the nonce did not run');
  assert.equal(result.handler, undefined, 'an inline event handler did not run');
  assert.equal(result.nonced, 1, 'a script with the nonce runs (the check above can tell)');
  assert.equal(result.evalRan, false, 'eval is refused');
  assert.equal(result.evalError, 'EvalError');
  const v = result.violations.join(' | ');
  assert.ok(result.violations.filter((x) => x.startsWith('script-src')).length >= 4, v);
  assert.match(v, /cdn\.example\.com/, 'the remote script was refused');
  assert.match(v, /webview\.js\?again/, 'a same-origin script without the nonce was refused');
  console.log(`csp.e2e: ok (${result.violations.length} violations: ${v})`);
} catch (e) {
  failed = true;
  console.error('csp.e2e FAILED:', e);
} finally {
  await browser.close();
  server.close();
}
process.exit(failed ? 1 : 0);
