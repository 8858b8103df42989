// Issue 14 in a real VS Code (code-server + chromium, the setup of codeServerSession.mjs): Run
// Training on the demo script with the fake engine in FAKE_MODE=flood, which writes `steps` step
// lines to stdout (and metrics.jsonl) as fast as the extension host drains the pipe. While it
// runs: the extension host's memory (VmRSS / VmHWM of the process code-server forked with
// --type=extensionHost, every 200 ms) and the UI's responsiveness (a page.evaluate round trip in
// the workbench and in the dashboard's webview frame, and F1 → quick input shown → Escape, the
// trivial UI action a user would notice). At the end: metrics.jsonl, the run history's
// history.json and events file hold every step once and in order, and the dashboard shows the
// last step and the run completed.
// Shared by code-server-flood.e2e.mjs (1e5 steps, in npm test) and
// test/bench/extension-host-flood.bench.mjs (1e6 steps).
import { cpSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { cleanUp, extensionHostPid, fakeEngine, findFrame, installExtension, launchBrowser, openFileOn, prepareScenario, processMemory, root, sampleMemory, startCodeServer, stepLogger, stopCodeServer } from './codeServerSession.mjs';

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.floor(s.length / 2)] : NaN; };

/**
 * Counts the protocol lines of a JSONL file: step events, whether they run 1..N with no gap or
 * repeat, and whether it ends with an end event.
 */
export function countRecords(path) {
  const text = readFileSync(path, 'utf8');
  let steps = 0, inOrder = true, ends = 0, bad = 0, expect = 1;
  for (const line of text.split('\n')) {
    if (!line) continue;
    let e;
    try { e = JSON.parse(line); } catch { bad++; continue; }
    if (e.event === 'step') { steps++; if (e.step !== expect) inOrder = false; expect = e.step + 1; } else if (e.event === 'end') ends++;
  }
  return { steps, inOrder, ends, bad, bytes: Buffer.byteLength(text) };
}

/**
 * Runs the scenario; returns { figures, problems } (problems: what failed, empty when every record
 * arrived and the dashboard caught up). `timeoutMs`: from the click to the dashboard showing the
 * run completed.
 */
export async function floodScenario({ name, steps, timeoutMs, screenshot }) {
  const s = prepareScenario(name);
  const step = stepLogger(name);
  const ws = join(s.scratch, 'workspace');
  cpSync(join(root, 'test', 'e2e', 'workspace'), ws, { recursive: true });
  const env = s.env({ FAKE_MODE: 'flood', FAKE_STEPS: String(steps) });
  installExtension(s, { 'rwkvStudio.enginePath': fakeEngine }, env);
  const server = await startCodeServer(s, ws, ['--disable-workspace-trust'], env);
  const browser = await launchBrowser(s);
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  const problems = [];
  const figures = { steps };
  let failed = false;
  try {
    await page.goto(`${server.base}/?folder=${encodeURIComponent(ws)}`);
    await page.waitForSelector('.monaco-workbench', { timeout: 60_000 });
    await page.waitForSelector('.statusbar', { timeout: 30_000 });
    await openFileOn(page, 'demo.sh');
    const lens = page.locator('.codelens-decoration a', { hasText: 'Run Training' }).first();
    await lens.waitFor({ timeout: 30_000 });
    const pid = await extensionHostPid(server);
    if (!pid) throw new Error('no extension host process (--type=extensionHost) under this code-server');
    step(`workbench up, extension active, extension host pid ${pid}`);

    // The UI probes: one loop, one probe after another, until `probing` is false.
    const ui = { page: [], dash: [], quickInput: [] };
    let dash, probing = true;
    const quickInput = async () => {
      const t = performance.now();
      await page.keyboard.press('F1');
      await page.locator('.quick-input-widget input').waitFor({ state: 'visible', timeout: 60_000 });
      await page.keyboard.press('Escape');
      await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: 60_000 });
      return performance.now() - t;
    };
    const probeOnce = async (into, i) => {
      let t = performance.now();
      await page.evaluate(() => 0);
      into.page.push(performance.now() - t);
      if (dash) { t = performance.now(); await dash.evaluate(() => 0); into.dash.push(performance.now() - t); }
      if (i % 5 === 4) into.quickInput.push(await quickInput());
    };
    // Quiet figures first, to compare with.
    const quiet = { page: [], dash: [], quickInput: [] };
    for (let i = 0; i < 10; i++) { await probeOnce(quiet, i); await sleep(200); }
    const baseline = processMemory(pid);
    figures.baselineRssMiB = baseline.rssMiB;

    // The engine's last line lands in metrics.jsonl just before its last stdout write.
    const metricsFile = join(ws, 'demo', 'out', 'metrics.jsonl');
    let engineDoneAt;
    const engineDone = () => {
      if (engineDoneAt || !existsSync(metricsFile)) return;
      try { if (readFileSync(metricsFile, 'utf8').slice(-200).includes('"event":"end"')) engineDoneAt = performance.now(); } catch { /* not yet */ }
    };
    let sampler;
    const t0 = performance.now();
    await lens.click();
    // Sampling starts at the click; the engine (a child of the host) is not counted: VmRSS is per process.
    sampler = sampleMemory(pid, 200, () => { if (!engineDoneAt) engineDone(); });
    const probes = (async () => { for (let i = 0; probing; i++) { await probeOnce(ui, i); await sleep(200); } })();
    probes.catch(() => {});
    dash = await findFrame(page, '#chart-loss', { timeoutMs: 60_000 });
    if (!dash) throw new Error('the dashboard did not open');
    step('Run Training pressed, dashboard open');

    let shown;
    for (const deadline = t0 + timeoutMs; performance.now() < deadline;) {
      shown = await dash.evaluate(() => ({ last: window.rwkvDashboard.summary().loss[0]?.last, held: window.rwkvDashboard.summary().loss[0]?.points, row: document.querySelector('#run-table tbody tr')?.innerText ?? '' }));
      if (/completed/.test(shown.row) && shown.last?.x === steps) break;
      await sleep(200);
    }
    const shownAt = performance.now();
    engineDone();
    probing = false;
    await probes;
    // Settled: a few seconds after the end, the memory the host keeps.
    await sleep(3000);
    const mem = sampler.stop();
    step(`flood over: dashboard "${shown?.row.replace(/\s+/g, ' ').trim()}", last step ${shown?.last?.x}`);
    if (screenshot) await page.screenshot({ path: join(s.shots, screenshot) });

    Object.assign(figures, {
      wallS: (shownAt - t0) / 1000,
      engineS: engineDoneAt ? (engineDoneAt - t0) / 1000 : NaN,
      linesPerS: engineDoneAt ? steps / ((engineDoneAt - t0) / 1000) : NaN,
      dashboardBehindS: engineDoneAt ? (shownAt - engineDoneAt) / 1000 : NaN,
      peakRssMiB: mem.peakRssMiB, hwmMiB: mem.hwmMiB, finalRssMiB: mem.lastRssMiB, memSamples: mem.samples.length,
      uiPageWorstMs: Math.max(...ui.page), uiPageMedianMs: median(ui.page), uiPageProbes: ui.page.length,
      uiDashWorstMs: Math.max(...ui.dash), uiDashMedianMs: median(ui.dash),
      quickInputWorstMs: Math.max(...ui.quickInput), quickInputMedianMs: median(ui.quickInput), quickInputProbes: ui.quickInput.length,
      quietPageWorstMs: Math.max(...quiet.page), quietQuickInputMs: median(quiet.quickInput),
      dashboardLastStep: shown?.last?.x, dashboardPointsHeld: shown?.held, dashboardRow: shown?.row.replace(/\s+/g, ' ').trim(),
    });
    if (shown?.last?.x !== steps) problems.push(`the dashboard's last step is ${shown?.last?.x}, not ${steps}`);
    if (!/completed/.test(shown?.row ?? '')) problems.push(`the dashboard's run row is "${shown?.row}", not completed`);
    if (!new RegExp(`\\b${steps} / ${steps}\\b`).test(shown?.row ?? '')) problems.push(`the dashboard's steps cell is not "${steps} / ${steps}": ${shown?.row}`);

    // Every record: the engine's metrics.jsonl, the history's events file and record.
    await sleep(500);
    const metrics = countRecords(metricsFile);
    figures.metrics = metrics;
    if (metrics.steps !== steps || !metrics.inOrder || metrics.ends !== 1 || metrics.bad) problems.push(`metrics.jsonl: ${JSON.stringify(metrics)}`);
    const storage = join(s.userData, 'User', 'workspaceStorage');
    const historyFile = readdirSync(storage).map((d) => join(storage, d, 'rwkv-studio.rwkv-studio', 'history.json')).find((p) => existsSync(p));
    if (!historyFile) problems.push('no history.json in the workspace storage');
    else {
      const run = JSON.parse(readFileSync(historyFile, 'utf8')).runs.at(-1);
      figures.history = { status: run.status, stepCount: run.stepCount, lastStep: run.lastStep?.step, garbageLines: run.garbageLines };
      if (run.status !== 'completed' || run.stepCount !== steps || run.lastStep?.step !== steps || run.garbageLines) problems.push(`history.json: ${JSON.stringify(figures.history)}`);
      const events = run.eventsFile && existsSync(run.eventsFile) ? countRecords(run.eventsFile) : undefined;
      figures.eventsFile = events;
      if (!events || events.steps !== steps || !events.inOrder || events.ends !== 1 || events.bad) problems.push(`the run's events file: ${JSON.stringify(events)}`);
    }
  } catch (e) {
    failed = true;
    problems.push(String(e?.stack ?? e));
    await page.screenshot({ path: join(s.scratch, 'failure.png') }).catch(() => {});
    console.error(`(failure screenshot: ${join(s.scratch, 'failure.png')}; server log tail:)\n${server.log.slice(-2000)}`);
  } finally {
    await browser.close();
    await stopCodeServer(server);
    await cleanUp(s, failed || problems.length > 0);
  }
  return { figures, problems };
}

/** The figures as rows [figure, value] (printed by the e2e, tabled by the bench). */
export function floodRows(f) {
  const n = (x, d = 0) => (Number.isFinite(x) ? x.toLocaleString('en', { maximumFractionDigits: d, minimumFractionDigits: d }) : String(x));
  return [
    ['steps (step lines the engine wrote)', n(f.steps)],
    ['records in metrics.jsonl / the run\'s events file / history.json stepCount', `${n(f.metrics?.steps)} / ${n(f.eventsFile?.steps)} / ${n(f.history?.stepCount)} (in order: ${f.metrics?.inOrder && f.eventsFile?.inOrder ? 'yes' : 'NO'})`],
    ['dashboard: last step shown, run row', `${n(f.dashboardLastStep)}, "${f.dashboardRow}" (loss chart holds ${n(f.dashboardPointsHeld)} points)`],
    ['wall time: click to dashboard completed', `${n(f.wallS, 1)} s`],
    ['engine done (end line written) after the click; lines/s', `${n(f.engineS, 1)} s; ${n(f.linesPerS)}`],
    ['dashboard behind the engine at the end', `${n(f.dashboardBehindS, 1)} s`],
    ['extension host RSS: before the run / peak (sampled) / final (3 s after)', `${n(f.baselineRssMiB)} / ${n(f.peakRssMiB)} / ${n(f.finalRssMiB)} MiB`],
    ['extension host VmHWM (peak RSS since it started)', `${n(f.hwmMiB)} MiB (${f.memSamples} samples, 200 ms apart)`],
    ['workbench page.evaluate round trip: worst / median (quiet worst)', `${n(f.uiPageWorstMs)} / ${n(f.uiPageMedianMs, 1)} ms (${n(f.quietPageWorstMs)} ms), ${f.uiPageProbes} probes`],
    ['dashboard webview evaluate round trip: worst / median', `${n(f.uiDashWorstMs)} / ${n(f.uiDashMedianMs, 1)} ms`],
    ['F1 → quick input shown → Escape: worst / median (quiet median)', `${n(f.quickInputWorstMs)} / ${n(f.quickInputMedianMs)} ms (${n(f.quietQuickInputMs)} ms), ${f.quickInputProbes} probes`],
  ];
}
