// The extension in a real VS Code: code-server (VS Code's server with a real Node extension
// host) opened in Debian's chromium by playwright-core. The VSIX from `npm run package` is
// installed with --install-extension, exactly as a user would. Scenario: open a script with
// mistakes and see its diagnostics; open the demo script, press the Run Training lens, watch
// the dashboard's chart fill, stop the run, and check what the engine was given.
// Tools are cached in ~/.cache/rwkv-studio-e2e (tools.mjs); without them this prints SKIP. The
// setup is codeServerSession.mjs, shared with code-server-data.e2e.mjs.
import assert from 'node:assert/strict';
import { cpSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanUp, stopCodeServer, engineBin, fakeEngine, installExtension, launchBrowser, openFileOn, prepareScenario, quickInputOn, root, startCodeServer, stepLogger } from './codeServerSession.mjs';
import { prepareDemo, probeTraining } from './demoWorkspace.mjs';

// 1. The tools, the VSIX, a fresh profile and workspace (codeServerSession.mjs).
const s = prepareScenario('code-server.e2e');
const { shots, scratch, userData } = s;
const ws = join(scratch, 'workspace');
cpSync(join(root, 'test', 'e2e', 'workspace'), ws, { recursive: true });
// The engine: the real one when it is built and trains (demo model and data made by itself),
// else the protocol-speaking fake, said loudly.
let whyFake = process.env.RWKV_E2E_FAKE_ENGINE === '1' ? 'RWKV_E2E_FAKE_ENGINE=1' : !existsSync(engineBin) ? 'dist/bin/rwkv-train is not built' : undefined;
whyFake ??= prepareDemo(engineBin, ws) ?? probeTraining(engineBin, ws);
const realEngine = !whyFake;
console.log(`code-server.e2e: engine = ${realEngine ? 'dist/bin/rwkv-train (real, CPU, demo model)' : `test/fake-engine (${whyFake})`}`);
const env = s.env({ FAKE_MODE: 'normal', FAKE_STEPS: '100000', FAKE_STEP_MS: '40' });
installExtension(s, realEngine ? {} : { 'rwkvStudio.enginePath': fakeEngine }, env);

let server = await startCodeServer(s, ws, ['--disable-workspace-trust'], env);
const base = server.base;
const browser = await launchBrowser(s);
let failed = false;
const step = stepLogger('code-server.e2e');
const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
try {
  await page.goto(`${base}/?folder=${encodeURIComponent(ws)}`);
  await page.waitForSelector('.monaco-workbench', { timeout: 60_000 });
  await page.waitForSelector('.statusbar', { timeout: 30_000 });
  step('workbench up');

  const quickInput = (text) => quickInputOn(page, text);
  const openFile = (name) => openFileOn(page, name);

  // 3. Diagnostics in a script with mistakes.
  await openFile('typo.sh');
  await page.locator('.monaco-editor .squiggly-error').first().waitFor({ timeout: 40_000 });
  const problems = await page.locator('#status\\.problems').first().getAttribute('aria-label').catch(() => '');
  step(`diagnostics shown (${problems})`);
  assert.match(problems ?? '', /[1-9]/, 'the Problems count is not zero');
  await page.waitForTimeout(800);
  await page.screenshot({ path: join(shots, 'code-server-diagnostics.png') });

  // 4. Run Training from the lens above the train.py call of the demo script.
  await openFile('demo.sh');
  const lens = page.locator('.codelens-decoration a', { hasText: 'Run Training' }).first();
  await lens.waitFor({ timeout: 30_000 });
  step('Run Training lens shown');
  await lens.click();

  // The dashboard webview: nested iframes; find the one with our charts.
  let dash;
  for (let i = 0; i < 150 && !dash; i++) {
    for (const f of page.frames()) {
      if (await f.locator('#chart-loss').count().catch(() => 0)) { dash = f; break; }
    }
    if (!dash) await page.waitForTimeout(200);
  }
  assert.ok(dash, 'the dashboard opened');
  step('dashboard open');
  let summary;
  for (let i = 0; i < 300; i++) {
    summary = await dash.evaluate(() => window.rwkvDashboard.summary());
    if ((summary.loss[0]?.points ?? 0) >= 20) break;
    await page.waitForTimeout(200);
  }
  assert.ok(summary.loss[0].points >= 20, `loss chart fills: ${JSON.stringify(summary.loss.map((d) => d.points))}`);
  assert.ok(summary.lr[0].points >= 20, 'lr chart fills');
  if (realEngine) {  // the engine's step events carry the memory the dashboard draws (run protocol)
    assert.ok(summary.mem[0].points >= 20, `memory chart fills: ${JSON.stringify(summary.mem.map((d) => d.points))}`);
    assert.ok(summary.mem[2]?.last, 'the device total line (start event) is drawn');
  }
  step(`chart filling (${summary.loss[0].points} loss points)`);
  const statusItem = await page.locator('.statusbar-item', { hasText: 'RWKV' }).first().innerText();
  assert.match(statusItem, /RWKV .*loss \d/, `status bar: ${statusItem}`);
  await page.waitForTimeout(600);
  await page.screenshot({ path: join(shots, 'code-server-training.png') });

  // 5. Stop it: SIGINT, the engine saves and ends as stopped.
  await quickInput('>RWKV: Stop Training');
  const stoppedToast = page.locator('.notifications-toasts .notification-toast', { hasText: /stopped at step/ });
  await stoppedToast.waitFor({ timeout: 40_000 });
  step('stopped');
  let rowText = '';
  for (let i = 0; i < 50 && !/stopped/.test(rowText); i++) { rowText = await dash.locator('#run-table tbody tr').first().innerText(); await page.waitForTimeout(200); }
  assert.match(rowText, /stopped/);
  const pointsAtStop = (await dash.evaluate(() => window.rwkvDashboard.summary())).loss[0].points;
  await page.waitForTimeout(1500);
  assert.equal((await dash.evaluate(() => window.rwkvDashboard.summary())).loss[0].points, pointsAtStop, 'no points after the stop');
  await page.waitForTimeout(500);
  await page.screenshot({ path: join(shots, 'code-server-stopped.png') });

  // The engine's stderr in the output channel (coloured by the rwkv-train-log grammar).
  await quickInput('>RWKV: Show Engine Output');
  const outputLine = page.locator('.part.panel .view-lines', { hasText: /\[rwkv\]\s+demo\.sh:\d+/ }).first();
  await outputLine.waitFor({ timeout: 20_000 });
  assert.match(await page.locator('.part.panel .view-lines').first().innerText(), realEngine ? /\d+\/\d+/ : /SIGINT/, 'the engine\'s stderr is in the output channel');
  await page.waitForTimeout(500);
  await page.screenshot({ path: join(shots, 'code-server-output.png') });
  step('output channel shows the engine log');

  // Show GPUs: here (no NVIDIA driver) the engine's NVML probe says so, and the CPU is offered.
  await quickInput('>RWKV: Show GPUs');
  const gpuAnswer = page.locator('.notifications-toasts .notification-toast, .quick-input-widget', { hasText: /No NVIDIA GPU was found|GPUs on this machine/ }).first();
  await gpuAnswer.waitFor({ timeout: 20_000 });
  step(`show GPUs: ${(await gpuAnswer.innerText()).split('\n').find((l) => /GPU/.test(l))?.slice(0, 80)}`);
  await page.keyboard.press('Escape');

  // 6. The run history on disk: what the engine was given (argv array, cwd, exported env).
  const storage = join(userData, 'User', 'workspaceStorage');
  const history = readdirSync(storage).map((d) => join(storage, d, 'rwkv-studio.rwkv-studio', 'history.json')).find((p) => existsSync(p));
  assert.ok(history, 'history.json was written in the workspace storage');
  const runs = JSON.parse(readFileSync(history, 'utf8')).runs;
  const run = runs.at(-1);
  assert.equal(run.status, 'stopped');
  assert.equal(run.spec.cwd, ws);
  assert.equal(run.spec.env.CUDA_VISIBLE_DEVICES, '0');
  assert.equal(run.spec.argv[run.spec.argv.indexOf('--my_testing') + 1], 'x070', 'quotes removed as the shell would');
  assert.equal(run.spec.argv[run.spec.argv.indexOf('--load_model') + 1], 'demo/model.pth', 'variables expanded');
  assert.ok(run.checkpoints.length >= 1, 'the stop saved a checkpoint');
  step(`history ok: ${run.stepCount} steps, checkpoint ${run.checkpoints.at(-1).path}`);

  // 7. An untrusted folder: diagnostics still work, nothing runs.
  await stopCodeServer(server);
  const untrustedWs = join(scratch, 'untrusted-workspace');
  cpSync(join(root, 'test', 'e2e', 'workspace'), untrustedWs, { recursive: true });
  server = await startCodeServer(s, untrustedWs, [], env);
  const page2 = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  await page2.goto(`${server.base}/?folder=${encodeURIComponent(untrustedWs)}`);
  await page2.waitForSelector('.monaco-workbench', { timeout: 60_000 });
  const noTrust = page2.locator('.monaco-dialog-box a.monaco-button, .monaco-dialog-box .monaco-button', { hasText: /don't trust|No/ }).first();
  await noTrust.waitFor({ timeout: 30_000 });
  await noTrust.click();
  step('untrusted folder opened (restricted mode)');
  await openFileOn(page2, 'typo.sh');
  await page2.locator('.monaco-editor .squiggly-error').first().waitFor({ timeout: 40_000 });
  const restrictedLens = page2.locator('.codelens-decoration a', { hasText: 'trust this folder first' }).first();
  await restrictedLens.waitFor({ timeout: 30_000 });
  assert.equal(await page2.locator('.codelens-decoration a', { hasText: /^\s*Run Training$/ }).count(), 0, 'no runnable lens');
  await page2.keyboard.press('F1');
  await page2.locator('.quick-input-widget input').fill('>RWKV: Run Training');
  await page2.waitForTimeout(800);
  const offered = await page2.locator('.quick-input-list .monaco-list-row', { hasText: 'RWKV: Run Training' }).count();
  await page2.keyboard.press('Escape');
  assert.equal(offered, 0, 'Run Training is not offered in restricted mode');
  await page2.waitForTimeout(500);
  await page2.screenshot({ path: join(shots, 'code-server-untrusted.png') });
  step('untrusted: diagnostics shown, Run Training not offered');
  console.log(`code-server.e2e: ok in ${step.elapsed()}s`);
} catch (e) {
  failed = true;
  console.error('code-server.e2e FAILED:', e);
  await page.screenshot({ path: join(scratch, 'failure.png') }).catch(() => {});
  console.error(`(failure screenshot: ${join(scratch, 'failure.png')}; server log tail:)\n${server.log.slice(-2000)}`);
} finally {
  await browser.close();
  await stopCodeServer(server);
  await cleanUp(s, failed);
}
process.exit(failed ? 1 : 0);
