// Extension benchmarks:
//  1. Activation: loading dist/extension.js and running activate() (with a stand-in `vscode`
//     module), in a fresh Node process each sample. Target: <= 50 ms.
//  2. Dashboard frame time in Debian's chromium (the bundled webview): replaying 10 k and 1 M
//     steps (thinned by the panel's thinForReplay first, as the extension sends them; the JSON
//     size of the message is what VS Code serialises to the webview), then appending live points
//     (100 a frame) on top of them; decimation keeps a frame cheap however long the run.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHROMIUM_ARGS, openDashboard, root, startDashboardServer } from '../e2e/dashboardHarness.mjs';
import { ensureChromium } from '../e2e/tools.mjs';
import { tsImport } from 'tsx/esm/api';

const { thinForReplay } = await tsImport(join(root, 'extension/src/dashboard/dashboardModel.ts'), import.meta.url);

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const p95 = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(s.length * 0.95))]; };

if (!existsSync(join(root, 'dist', 'extension.js'))) spawnSync(process.execPath, ['.ci/esbuild.mjs'], { cwd: root, stdio: 'inherit' });

// ---- 1. activation ----
const probe = `
const Module = require('module');
const stub = ${JSON.stringify(join(root, 'test', 'bench', 'vscodeStub.cjs'))};
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) { return request === 'vscode' ? stub : resolve.call(this, request, ...rest); };
const { performance } = require('perf_hooks');
const t0 = performance.now();
const ext = require(${JSON.stringify(join(root, 'dist', 'extension.js'))});
const t1 = performance.now();
const dir = ${JSON.stringify(mkdtempSync(join(tmpdir(), 'rwkv-bench-')))};
const context = { subscriptions: [], extensionPath: ${JSON.stringify(root)}, extensionUri: { fsPath: ${JSON.stringify(root)} }, storageUri: { fsPath: dir }, globalStorageUri: { fsPath: dir } };
ext.activate(context);
const t2 = performance.now();
process.stdout.write(JSON.stringify({ load: t1 - t0, activate: t2 - t1 }));
process.exit(0);
`;
const samples = [];
for (let i = 0; i < 12; i++) {
  const r = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8' });
  if (r.status !== 0) { console.error(r.stderr); process.exit(1); }
  samples.push(JSON.parse(r.stdout));
}
const warm = samples.slice(2);
const total = warm.map((s) => s.load + s.activate);
console.log('activation (dist/extension.js, 10 fresh processes after 2 warm-ups)');
console.log(`  load    median ${median(warm.map((s) => s.load)).toFixed(1)} ms`);
console.log(`  activate median ${median(warm.map((s) => s.activate)).toFixed(1)} ms`);
console.log(`  total   median ${median(total).toFixed(1)} ms, p95 ${p95(total).toFixed(1)} ms  (target <= 50 ms: ${median(total) <= 50 ? 'met' : 'NOT met'})`);

// ---- 2. dashboard frame time ----
const chromium = ensureChromium();
if (!chromium) { console.log('dashboard: SKIP (no chromium)'); process.exit(0); }
const { chromium: playwright } = await import('playwright-core');
const { server, base } = await startDashboardServer();
const browser = await playwright.launch({ executablePath: chromium, args: CHROMIUM_ARGS });
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  console.log('dashboard (chromium, 1280x900, four charts, LTTB decimation to 1000 samples)');
  for (const n of [10_000, 1_000_000]) {
    await openDashboard(page, base);
    const all = new Array(n);
    for (let i = 0; i < n; i++) all[i] = { step: i + 1, loss: 2 + Math.exp(-i / (n / 5)) + 0.1 * Math.sin(i), lr: 1e-4, tokens: (i + 1) * 2048, tokensPerS: 40000 + (i % 100), memUsed: 5e9, memReserved: 6e9, elapsed: i * 0.05 };
    const t0 = performance.now();
    const thinned = thinForReplay(all);
    const thinMs = performance.now() - t0;
    const messageMB = JSON.stringify(thinned).length / 1e6, fullMB = JSON.stringify(all).length / 1e6;
    const result = await page.evaluate(async ({ n, points }) => {
      const frame = () => new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(ok)));
      const runs = [{ id: 'r', title: 'bench', status: 'running', source: 'engine', steps: n, config: '', totalMemory: 8e10 }];
      const t0 = performance.now();
      window.postMessage({ type: 'reset', runs, shown: ['r'], points: { r: points } }, '*');
      await new Promise((ok) => setTimeout(ok, 0));
      await frame();
      const replay = performance.now() - t0;
      const frames = [], work = [];
      for (let k = 0; k < 60; k++) {
        const batch = [];
        for (let j = 0; j < 100; j++) { const i = n + k * 100 + j; batch.push({ step: i + 1, loss: 2, lr: 1e-4, tokens: (i + 1) * 2048, tokensPerS: 40000, memUsed: 5e9, memReserved: 6e9, elapsed: i * 0.05 }); }
        const f0 = performance.now();
        window.postMessage({ type: 'points', runId: 'r', points: batch }, '*');
        await new Promise((ok) => setTimeout(ok, 0));
        await frame();
        frames.push(performance.now() - f0);
        work.push(window.rwkvDashboard.lastUpdateMs());
      }
      const s = window.rwkvDashboard.summary();
      return { replay, frames, work, held: s.loss[0].points, given: s.loss[0].given, drawn: s.loss[0].drawn };
    }, { n, points: thinned });
    console.log(`  ${n.toLocaleString('en')} steps: thinning ${thinMs.toFixed(0)} ms (${thinned.length.toLocaleString('en')} points, message ${messageMB.toFixed(1)} MB of JSON instead of ${fullMB.toFixed(0)} MB) + replay and first draw ${result.replay.toFixed(0)} ms; live frame (100 new points): redraw of the four charts median ${median(result.work).toFixed(1)} ms, p95 ${p95(result.work).toFixed(1)} ms (message to painted frame ${median(result.frames).toFixed(1)} ms at 60 Hz); loss chart holds ${result.held.toLocaleString("en")} points, gives chart.js ${result.given}, draws ${result.drawn}`);
  }
} finally {
  await browser.close();
  server.close();
}
