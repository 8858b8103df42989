// `npm run bench -- faults`: the long runs of the faults suite (issue 14), each printing the
// figures it reached (npm test runs bounded versions of the same code):
//  1. the engine SIGKILL soak (test/faults/engineSoak.mjs): FAULTS_TRIALS trials (200), up to 3
//     kills each, mid-step / mid-checkpoint / start-up, on the CPU backend's tiny model; then
//     FAULTS_WINDOW_TRIALS (30) truncations of the .bin met by the mapped read itself
//     (test/faults/dataWindow.mjs: the SIGBUS window);
//  2. the language server fuzz (server/test/fuzz/docFuzzer.ts): FAULTS_DOCS documents
//     (1,000,000), split over two worker processes (one a core);
//  3. the extension's run manager following an engine that floods stdout with FAULTS_STEPS
//     (1,000,000) step lines as fast as the pipe goes: events/s, the longest event-loop block,
//     and the memory the (extension host) process holds while and after it runs.
// BENCH_SAVE=1 writes the table to test/bench/results/faults.md.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { tsImport } from 'tsx/esm/api';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

if (process.argv[2] === '--fuzz-worker') {
  const { fuzz } = await tsImport(join(root, 'server/test/fuzz/docFuzzer.ts'), import.meta.url);
  const f = await fuzz(Number(process.argv[4]), Number(process.argv[3]));
  process.stdout.write(JSON.stringify(f));
  process.exit(0);
}

const rows = [];
const row = (part, figure, value) => { rows.push([part, figure, value]); console.log(`  ${part.padEnd(10)} ${figure.padEnd(44)} ${value}`); };
let failed = false;

// ---- 1. engine SIGKILL soak ----
const engine = join(root, 'dist', 'bin', 'rwkv-train');
if (!existsSync(engine)) {
  console.log('SKIP engine soak: dist/bin/rwkv-train is not built');
} else {
  const { makeSoakWorld, soak, STEPS_PER_EPOCH } = await import('../faults/engineSoak.mjs');
  const dir = mkdtempSync(join(tmpdir(), 'rwkv-faults-bench-'));
  const trials = Number(process.env.FAULTS_TRIALS ?? 200);
  const t0 = Date.now();
  const f = await soak(makeSoakWorld(engine, dir), { trials, killsPerTrial: 3, seed: Number(process.env.FAULTS_SEED ?? 1),
    onTrial: (x) => { if (x.trials % 25 === 0) console.log(`  ... ${x.trials} trials, ${x.kills} kills`); } });
  rmSync(dir, { recursive: true, force: true });
  row('engine', 'trials / launches', `${f.trials} / ${f.launches}`);
  row('engine', 'SIGKILLs (mid-step, mid-checkpoint, start-up)', `${f.kills} (${f.killsByKind['mid-step']}, ${f.killsByKind['mid-checkpoint']}, ${f.killsByKind.startup})`);
  row('engine', `max steps lost per kill (resume every ${STEPS_PER_EPOCH})`, `${f.maxStepsLost} (mean ${(f.stepsLostTotal / Math.max(1, f.kills)).toFixed(2)})`);
  row('engine', 'checkpoint files checked (CRC) / not loading', `${f.filesChecked} / ${f.badFiles}`);
  row('engine', 'steps compared / loss mismatches (exact)', `${f.stepsCompared} / ${f.lossMismatches}`);
  row('engine', 'final checkpoints differing from uninterrupted', String(f.finalFilesDiffer));
  row('engine', 'torn metrics lines / stale temp files / failures', `${f.badMetricLines} / ${f.staleTemps} / ${f.failedLaunches}`);
  row('engine', 'wall time', `${((Date.now() - t0) / 1000).toFixed(0)} s`);
  if (f.problems.length) { failed = true; console.log(f.problems.join('\n')); }

  // the .bin truncated where only the guarded read can notice (test/faults/dataWindow.mjs)
  const { dataWindowTrials } = await import('../faults/dataWindow.mjs');
  const wdir = mkdtempSync(join(tmpdir(), 'rwkv-faults-window-'));
  const w = await dataWindowTrials(makeSoakWorld(engine, wdir), { trials: Number(process.env.FAULTS_WINDOW_TRIALS ?? 30), seed: Number(process.env.FAULTS_SEED ?? 1) });
  rmSync(wdir, { recursive: true, force: true });
  row('engine', '.bin truncated past the check: E_DATA_CHANGED', `${w.dataChanged} / ${w.trials} (${w.signalDeaths} SIGBUS deaths, ${w.otherEnds} other ends)`);
  row('engine', '  resume whole / resumed at last step', `${w.resumeWhole} / ${w.resumedAtLastStep}`);
  row('engine', '  worst truncation-to-exit', `${w.worstMs} ms`);
  if (w.problems.length) { failed = true; console.log(w.problems.join('\n')); }
}

// ---- 2. language server fuzz ----
{
  const docs = Number(process.env.FAULTS_DOCS ?? 1_000_000);
  const workers = 2;
  const t0 = Date.now();
  const parts = await Promise.all(Array.from({ length: workers }, (_, w) => new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--fuzz-worker', String(1000 + w), String(Math.ceil(docs / workers))],
      { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (b) => { out += b; });
    child.on('close', (code) => { try { done(JSON.parse(out)); } catch { done({ docs: 0, exceptions: 1, worstMs: NaN, failures: [{ error: `worker exit ${code}` }] }); } });
  })));
  const seconds = (Date.now() - t0) / 1000;
  const total = parts.reduce((a, p) => a + p.docs, 0);
  const exceptions = parts.reduce((a, p) => a + p.exceptions, 0);
  const worst = parts.reduce((a, p) => (p.worstMs > a.worstMs ? p : a));
  row('server', 'documents (2 workers)', total.toLocaleString('en'));
  row('server', 'documents/s (both workers; per worker)', `${Math.round(total / seconds).toLocaleString('en')}; ${parts.map((p) => Math.round(p.docsPerSecond)).join(', ')}`);
  row('server', 'exceptions', String(exceptions));
  row('server', 'worst time for one document (run again alone)', `${worst.worstMs.toFixed(1)} ms (${worst.worstReplayMs?.toFixed(1)} ms; seed ${1000 + parts.indexOf(worst)}, document ${worst.worstDoc})`);
  row('server', 'findings / completions / hovers / runs resolved', `${parts.reduce((a, p) => a + p.findings, 0)} / ${parts.reduce((a, p) => a + p.completions, 0)} / ${parts.reduce((a, p) => a + p.hovers, 0)} / ${parts.reduce((a, p) => a + p.runs, 0)}`);
  if (exceptions) { failed = true; console.log(JSON.stringify(parts.flatMap((p) => p.failures), null, 1)); }
}

// ---- 3. extension: following an engine that floods stdout ----
{
  const { RunManager } = await tsImport(join(root, 'extension/src/runs/runManager.ts'), import.meta.url);
  const steps = Number(process.env.FAULTS_STEPS ?? 1_000_000);
  const dir = mkdtempSync(join(tmpdir(), 'rwkv-faults-flood-'));
  global.gc?.();
  const before = process.memoryUsage();
  const m = new RunManager({ enginePath: () => join(root, 'test/fake-engine/fake-rwkv-train.mjs'), historyDir: join(dir, 'history') });
  const lag = monitorEventLoopDelay({ resolution: 10 });
  let peakRss = 0, peakHeap = 0, seen = 0;
  const sampler = setInterval(() => { const u = process.memoryUsage(); peakRss = Math.max(peakRss, u.rss); peakHeap = Math.max(peakHeap, u.heapUsed); }, 20);
  m.on('event', (_id, e) => { if (e.event === 'step') seen++; });
  lag.enable();
  const t0 = Date.now();
  process.env.FAKE_MODE = 'flood';
  const r = m.start({ title: 'flood', argv: ['--steps', String(steps)], cwd: dir, env: {} });
  delete process.env.FAKE_MODE;
  await new Promise((done) => { const check = () => { if (!['starting', 'running'].includes(m.get(r.id).status)) done(); }; m.on('update', check); });
  const seconds = (Date.now() - t0) / 1000;
  lag.disable();
  clearInterval(sampler);
  const after = process.memoryUsage();  // before this bench reads the events file back itself
  const onDisk = readFileSync(m.get(r.id).eventsFile, 'utf8').split('\n').filter((l) => l).length;
  row('extension', 'steps followed / recorded / in the events file', `${seen.toLocaleString('en')} / ${m.get(r.id).stepCount.toLocaleString('en')} / ${(onDisk - 2).toLocaleString('en')}`);
  row('extension', 'events/s', Math.round(steps / seconds).toLocaleString('en'));
  row('extension', 'event loop blocked at most (p99)', `${(lag.max / 1e6).toFixed(1)} ms (${(lag.percentile(99) / 1e6).toFixed(1)} ms)`);
  row('extension', 'memory: RSS before / peak / after', `${(before.rss / 2 ** 20).toFixed(0)} / ${(peakRss / 2 ** 20).toFixed(0)} / ${(after.rss / 2 ** 20).toFixed(0)} MiB`);
  row('extension', 'memory: JS heap before / peak / after', `${(before.heapUsed / 2 ** 20).toFixed(0)} / ${(peakHeap / 2 ** 20).toFixed(0)} / ${(after.heapUsed / 2 ** 20).toFixed(0)} MiB`);
  if (seen !== steps || m.get(r.id).stepCount !== steps || onDisk !== steps + 2) failed = true;
  m.dispose();
  rmSync(dir, { recursive: true, force: true });
}

if (process.env.BENCH_SAVE === '1') {
  const md = ['# Faults suite figures (`npm run bench -- faults`)', '', `Machine: ${process.env.BENCH_MACHINE ?? 'this machine'}; ${new Date().toISOString().slice(0, 10)}.`, '',
    '| part | figure | value |', '|---|---|---|', ...rows.map((r) => `| ${r.join(' | ')} |`), ''].join('\n');
  writeFileSync(join(root, 'test/bench/results/faults.md'), md);
}
process.exit(failed ? 1 : 0);
