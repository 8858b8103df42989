// The dashboard in a real browser (Debian's chromium via playwright-core): the exact page the
// extension shows (same HTML generator, same CSP, same bundle), with acquireVsCodeApi stubbed
// the way VS Code provides it. Fed a recorded run (test/fixtures/recorded-metrics.jsonl), then
// a live run streamed by the run manager from an engine process, overlaid. Asserts what the
// charts hold and takes screenshots (test/screenshots/ with E2E_SCREENSHOTS=1, see tools.mjs).
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { demoArgv, demoMagicPrime, prepareDemo, probeTraining } from './demoWorkspace.mjs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import assert from 'node:assert/strict';
import { tsImport } from 'tsx/esm/api';
import { ensureChromium, screenshotDir } from './tools.mjs';
import { CHROMIUM_ARGS, openDashboard, root, startDashboardServer } from './dashboardHarness.mjs';

const shots = screenshotDir(root);

const chromium = ensureChromium();
if (!chromium) { console.log('SKIP dashboard.e2e: no chromium (apt-get install -y chromium)'); process.exit(0); }

const imp = (p) => tsImport(join(root, p), import.meta.url);
const { readRunFile } = await imp('extension/src/runs/runFiles.ts');
const { pointsOf, runsCsv, summaryOf, toPoint } = await imp('extension/src/dashboard/dashboardModel.ts');
const { RunManager } = await imp('extension/src/runs/runManager.ts');
const { chromium: playwright } = await import('playwright-core');

let savedState = null;
const { server, base } = await startDashboardServer(() => savedState);

const browser = await playwright.launch({ executablePath: chromium, args: CHROMIUM_ARGS });
const problems = [];
let failed = false;
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(String(e)));
  const send = (msg) => page.evaluate((m) => window.postMessage(m, '*'), msg);
  const summary = () => page.evaluate(() => window.rwkvDashboard.summary());
  const openPage = (query = '') => openDashboard(page, base, query);

  // 1. A recorded run, replayed.
  await openPage();
  const recordedPath = join(root, 'test', 'fixtures', 'recorded-metrics.jsonl');
  const recorded = readRunFile(recordedPath, readFileSync(recordedPath, 'utf8'));
  const recordedPoints = pointsOf(recorded.events);
  await send({ type: 'reset', runs: [summaryOf(recorded.record)], shown: [recorded.record.id], points: { [recorded.record.id]: recordedPoints } });
  await page.waitForTimeout(300);
  let s = await summary();
  assert.deepEqual(s.loss.map((d) => d.label), ['raw', 'smoothed']);
  assert.equal(s.loss[0].points, 1200);
  assert.deepEqual(s.loss[0].last, { x: 1200, y: recordedPoints.at(-1).loss });
  assert.ok(s.loss[1].last.y > 1.7 && s.loss[1].last.y < 2.1, `smoothed loss ends near 1.9: ${s.loss[1].last.y}`);
  assert.equal(s.lr[0].points, 1200);
  assert.equal(s.tps[0].points, 1200);
  assert.deepEqual(s.mem.map((d) => d.label), ['used', 'reserved', 'total']);
  assert.ok(Math.abs(s.mem[2].last.y - 85520809984 / 1024 ** 3) < 1e-9, 'memory total line at the device total');
  assert.equal(s.loss[1].color, '#3794ff', 'first run coloured from --vscode-charts-blue');
  // steps the engine's bad-step guard skipped: crosses on the loss chart
  await send({ type: 'runs', runs: [{ ...summaryOf(recorded.record), skippedSteps: [100, 500] }] });
  await page.waitForTimeout(200);
  s = await summary();
  assert.deepEqual(s.loss.map((d) => d.label), ['raw', 'smoothed', 'skipped step']);
  assert.equal(s.loss[2].points, 2);
  assert.equal(s.loss[2].first.x, 100);
  await page.screenshot({ path: join(shots, 'dashboard-skipped-steps.png') });
  await send({ type: 'runs', runs: [summaryOf(recorded.record)] });
  await page.waitForTimeout(200);
  s = await summary();
  const row = await page.locator('#run-table tbody tr').first().innerText();
  assert.match(row, /completed/);
  assert.match(row, /1200 \/ 1200/);
  assert.match(row, /lora · ctx 512 · bsz 4/);
  await page.waitForTimeout(200);
  await page.screenshot({ path: join(shots, 'dashboard-recorded-dark.png') });

  // 2. x axis by tokens, smoothing off: smoothed == raw.
  await page.selectOption('#x-axis', 'tokens');
  await page.locator('#smoothing').fill('0');
  s = await summary();
  assert.equal(s.loss[0].last.x, recordedPoints.at(-1).tokens);
  assert.equal(s.loss[1].last.y, s.loss[0].last.y);

  // 3. Theme change: VS Code swaps the body class; charts re-colour.
  await page.evaluate(() => { document.body.className = 'vscode-light'; });
  await page.waitForTimeout(200);
  s = await summary();
  assert.equal(s.loss[1].color, '#1a85ff', 're-coloured from the light theme');
  assert.equal((await page.evaluate(() => window.rwkvDashboard.theme())).fg, '#3b3b3b');
  await page.screenshot({ path: join(shots, 'dashboard-recorded-light.png') });
  await page.evaluate(() => { document.body.className = 'vscode-dark'; });

  // 4. State survives the panel being hidden and reopened: UI choices from setState, points replayed.
  savedState = await page.evaluate(() => window.__state);
  assert.equal(savedState.xAxis, 'tokens');
  await openPage();
  assert.equal(await page.inputValue('#x-axis'), 'tokens');
  await page.selectOption('#x-axis', 'realStep');  // RWKV's count (epoch_begin x epoch_steps + step)
  assert.equal(await page.inputValue('#x-axis'), 'realStep');
  await page.selectOption('#x-axis', 'step');
  await page.locator('#smoothing').fill('0.9');

  // 5. A live run from an engine process through the run manager, overlaid on the recorded one.
  // The real CPU engine on the demo model when it is built and trains, else the fake engine.
  const engineBin = join(root, 'dist', 'bin', 'rwkv-train');
  const demoWs = mkdtempSync(join(tmpdir(), 'rwkv-dash-demo-'));
  cpSync(join(root, 'test', 'e2e', 'workspace', 'demo.sh'), join(demoWs, 'demo.sh'));
  let whyFake = process.env.RWKV_E2E_FAKE_ENGINE === '1' ? 'RWKV_E2E_FAKE_ENGINE=1' : !existsSync(engineBin) ? 'dist/bin/rwkv-train is not built' : undefined;
  whyFake ??= prepareDemo(engineBin, demoWs) ?? probeTraining(engineBin, demoWs);
  const engine = whyFake ? 'fake' : 'real';
  if (whyFake) console.log(`dashboard.e2e: live run on the fake engine (${whyFake})`);
  const liveSteps = engine === 'real' ? 30 : 300;
  const manager = new RunManager({ enginePath: () => (engine === 'real' ? engineBin : join(root, 'test', 'fake-engine', 'fake-rwkv-train.mjs')), historyDir: join(demoWs, 'history') });
  const pending = [];
  const live = engine === 'real'
    ? manager.start({ title: 'live (CPU engine)', argv: demoArgv({ projDir: 'demo/live', epochSteps: 15, epochCount: 2, magicPrime: demoMagicPrime(demoWs) }), cwd: demoWs, env: {} })
    : manager.start({ title: 'live (fake engine)', argv: ['--steps', '300', '--step_ms', '4'], cwd: demoWs, env: {} });
  manager.on('event', (id, e) => { if (id === live.id && e.event === 'step') pending.push(toPoint(e)); });
  await send({ type: 'reset', runs: [summaryOf(recorded.record), summaryOf(live)], shown: [recorded.record.id, live.id], points: { [recorded.record.id]: recordedPoints, [live.id]: [] } });
  const flush = async () => { if (pending.length) await send({ type: 'points', runId: live.id, points: pending.splice(0) }); await send({ type: 'runs', runs: [summaryOf(recorded.record), summaryOf(manager.get(live.id))] }); };
  let midway = false;
  while (manager.get(live.id).status === 'running' || manager.get(live.id).status === 'starting') {
    await new Promise((ok) => setTimeout(ok, 100));
    await flush();
    if (!midway && manager.get(live.id).stepCount > liveSteps / 3) {
      midway = true;
      s = await summary();
      assert.ok(s.loss[2].points >= liveSteps / 4 && s.loss[2].points < liveSteps, `chart fills while running: ${s.loss[2].points}`);
      await page.screenshot({ path: join(shots, 'dashboard-live-overlay.png') });
    }
  }
  await flush();
  await page.waitForTimeout(100);
  s = await summary();
  assert.equal(manager.get(live.id).status, 'completed');
  assert.equal(s.loss.length, 4, 'raw+smoothed for both runs');
  assert.equal(s.loss[2].points, liveSteps);
  assert.equal(s.loss[2].last.x, liveSteps);
  assert.notEqual(s.loss[1].color, s.loss[3].color, 'runs get different colours');
  assert.match(s.loss[3].label, /^live \((fake|CPU) engine\) smoothed$/);
  assert.equal(await page.locator('#run-table tbody tr').count(), 2);
  await page.screenshot({ path: join(shots, 'dashboard-compare.png') });

  // 6. Exports: the page asks for the CSV of both shown runs with its smoothing (the panel writes
  // it from the full events: runsCsv), PNG as a data URL.
  await page.click('#export-csv');
  await page.click('#export-png');
  const posted = await page.evaluate(() => window.__posted);
  const csvRequest = posted.find((m) => m.type === 'exportCsv');
  assert.deepEqual(csvRequest.shown, [recorded.record.id, live.id]);
  assert.equal(csvRequest.smoothing, 0.9);
  const eventsOf = (id) => (id === recorded.record.id ? recorded.events : manager.events(id));
  const csv = runsCsv([recorded.record, manager.get(live.id)], eventsOf, csvRequest.shown, csvRequest.smoothing);
  assert.equal(csv.trim().split('\n').length, 1 + 1200 + liveSteps);
  assert.match(csv.split('\n')[0], /^run,title,step,real_step,tokens,elapsed_s,loss,loss_smoothed,lr/);
  const lastRecorded = csv.split('\n')[1200].split(',');  // column 7: loss_smoothed
  assert.ok(Math.abs(Number(lastRecorded[7]) - s.loss[1].last.y) < 1e-9, 'the CSV smooths as the chart does');
  const png = posted.find((m) => m.type === 'exportPng');
  assert.match(png.dataUrl, /^data:image\/png;base64,/);
  assert.ok(png.dataUrl.length > 20000);

  // 7. Chinese labels.
  await openPage('?lang=zh-cn');
  assert.equal(await page.locator('#export-csv').innerText(), '导出 CSV');

  const cspErrors = problems.filter((p) => /Content Security Policy|Refused/.test(p));
  assert.deepEqual(cspErrors, [], 'no CSP violations');
  assert.deepEqual(problems, [], 'no console errors');
  console.log(`dashboard.e2e: ok (recorded 1200 steps, live ${engine} engine ${liveSteps} steps; screenshots in ${shots})`);
} catch (e) {
  failed = true;
  console.error('dashboard.e2e FAILED:', e);
} finally {
  await browser.close();
  server.close();
}
process.exit(failed ? 1 : 0);
