// What every code-server scenario (code-server*.e2e.mjs) shares: the tools (or a SKIP), the VSIX
// from `npm run package` installed with --install-extension as a user would, a fresh profile and
// workspace in a scratch folder of its own (so scenarios, and checkouts sharing the tool cache,
// never trample each other), code-server on a free port, chromium driven by playwright-core, and
// the helpers to drive VS Code's UI (quick input, quick open, webview frames).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CACHE, ensureChromium, ensureCodeServer, screenshotDir } from './tools.mjs';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const fakeEngine = join(root, 'test', 'fake-engine', 'fake-rwkv-train.mjs');
export const engineBin = join(root, 'dist', 'bin', 'rwkv-train');
export const addonFile = join(root, 'dist', 'bin', 'rwkv_studio.node');

/**
 * The tools, the VSIX and a scratch profile for scenario `name`, or a printed SKIP and exit 0.
 * Returns { shots, scratch, home, userData, exts, codeServer, chromium, vsix, env(extra) }.
 */
export function prepareScenario(name) {
  const skip = (why) => { console.log(`SKIP ${name}: ${why}`); process.exit(0); };
  const chromium = ensureChromium();
  if (!chromium) skip('no chromium');
  const codeServer = ensureCodeServer();
  if (!codeServer) skip('code-server could not be installed (see the lines above)');
  if (!existsSync(join(root, 'dist', 'server.js'))) skip('dist/server.js (the language server) is not built; run npm run build');

  // The VSIX (the same command users and CI run), then the development bundle (with source
  // maps) put back for the other tests.
  const pkg = spawnSync(process.execPath, [join(root, 'extension', 'package.mjs')], { cwd: root, encoding: 'utf8' });
  if (pkg.status !== 0) { console.error(pkg.stdout, pkg.stderr); throw new Error('npm run package failed'); }
  const vsix = /package: (\S+\.vsix)/.exec(pkg.stdout)?.[1];
  assert.ok(vsix && existsSync(vsix), 'a VSIX was written');
  spawnSync(process.execPath, ['.ci/esbuild.mjs'], { cwd: root, stdio: 'inherit' });

  mkdirSync(CACHE, { recursive: true });
  const scratch = mkdtempSync(join(CACHE, `${name}-`));
  const [home, userData, exts] = ['home', 'user-data', 'extensions'].map((d) => join(scratch, d));
  for (const d of [home, userData, exts]) mkdirSync(d, { recursive: true });
  const env = (extra = {}) => ({ ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, '.config'), XDG_DATA_HOME: join(home, '.local/share'), XDG_CACHE_HOME: join(home, '.cache'), ...extra });
  return { shots: screenshotDir(root), scratch, home, userData, exts, codeServer, chromium, vsix, env };
}

/** User settings for the profile (quiet workbench) plus the scenario's, then the VSIX installed. */
export function installExtension(s, settings, env) {
  mkdirSync(join(s.userData, 'User'), { recursive: true });
  writeFileSync(join(s.userData, 'User', 'settings.json'), JSON.stringify({
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'telemetry.telemetryLevel': 'off',
    'extensions.autoCheckUpdates': false,
    'window.restoreWindows': 'none',
    ...settings,
  }, null, 1));
  const install = spawnSync(s.codeServer, ['--install-extension', s.vsix, '--extensions-dir', s.exts, '--user-data-dir', s.userData], { env, encoding: 'utf8' });
  assert.equal(install.status, 0, `install: ${install.stdout}${install.stderr}`);
  assert.ok(readdirSync(s.exts).some((d) => d.startsWith('rwkv-studio.rwkv-studio-')), `installed into ${s.exts}: ${readdirSync(s.exts)}`);
}

/** code-server on a free port serving `folder`; resolves once /healthz answers. */
export async function startCodeServer(s, folder, extraArgs, env) {
  const port = await new Promise((ok) => { const srv = createServer(); srv.listen(0, '127.0.0.1', () => { const p = srv.address().port; srv.close(() => ok(p)); }); });
  const proc = spawn(s.codeServer, ['--auth', 'none', '--bind-addr', `127.0.0.1:${port}`, '--disable-telemetry', '--disable-update-check', ...extraArgs,
    '--user-data-dir', s.userData, '--extensions-dir', s.exts, folder], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const handle = { proc, log: '', base: `http://127.0.0.1:${port}` };
  proc.stdout.on('data', (d) => { handle.log += d; });
  proc.stderr.on('data', (d) => { handle.log += d; });
  for (let i = 0; i < 100; i++) {
    try { if ((await fetch(`${handle.base}/healthz`)).ok) break; } catch { /* not yet */ }
    await new Promise((ok) => setTimeout(ok, 200));
  }
  return handle;
}

export async function launchBrowser(s) {
  const { chromium: playwright } = await import('playwright-core');
  return playwright.launch({ executablePath: s.chromium, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
}

/** F1, `text`, Enter on the first row ('>' prefix: a command; none: quick open by file name). */
export async function quickInputOn(p, text) {
  await p.keyboard.press('F1');
  const input = p.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible' });
  await input.fill(text);
  await p.locator('.quick-input-list .monaco-list-row').first().waitFor({ timeout: 20_000 });
  await p.waitForTimeout(300);
  await p.keyboard.press('Enter');
}

export async function openFileOn(p, name) {
  await quickInputOn(p, name);
  await p.locator(`.tab[aria-label*="${name}"]`).first().waitFor({ timeout: 20_000 });
}

/** The webview frame (webviews are nested iframes) in which `selector` exists, polled. */
export async function findFrame(p, selector, { timeoutMs = 30_000, exclude = [] } = {}) {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline;) {
    for (const f of p.frames()) {
      if (exclude.includes(f)) continue;
      if (await f.locator(selector).count().catch(() => 0)) return f;
    }
    await p.waitForTimeout(200);
  }
  return undefined;
}

/**
 * The pid of this code-server's extension host: a process whose command line has
 * --type=extensionHost and whose parent chain reaches `handle.proc` (other checkouts may run a
 * code-server of their own on the same machine). Polled until it appears (the host starts when
 * the page connects); undefined after `timeoutMs`.
 */
export async function extensionHostPid(handle, timeoutMs = 30_000) {
  const parentOf = (pid) => { try { return Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]); } catch { return undefined; } };
  const descends = (pid) => { for (let p = pid, hops = 0; p > 1 && hops < 16; p = parentOf(p), hops++) if (p === handle.proc.pid) return true; return false; };
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline;) {
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      let cmd;
      try { cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8'); } catch { continue; }
      if (cmd.includes('--type=extensionHost') && descends(Number(d))) return Number(d);
    }
    await new Promise((ok) => setTimeout(ok, 200));
  }
  return undefined;
}

/** VmRSS and VmHWM (peak RSS) of a process from /proc/PID/status, in MiB; undefined once it is gone. */
export function processMemory(pid) {
  let status;
  try { status = readFileSync(`/proc/${pid}/status`, 'utf8'); } catch { return undefined; }
  const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMiB: kb('VmRSS') / 1024, hwmMiB: kb('VmHWM') / 1024 };
}

/**
 * Samples processMemory(pid) every `everyMs` until stop(), which returns
 * { samples, peakRssMiB, hwmMiB, lastRssMiB }; `onSample(sample, tMs)` runs after each sample.
 */
export function sampleMemory(pid, everyMs = 200, onSample = () => {}) {
  const t0 = Date.now();
  const samples = [];
  const take = () => { const m = processMemory(pid); if (m) { samples.push({ t: Date.now() - t0, ...m }); onSample(m, Date.now() - t0); } };
  take();
  const timer = setInterval(take, everyMs);
  return {
    samples,
    stop() {
      clearInterval(timer);
      take();
      const rss = samples.map((x) => x.rssMiB);
      return { samples, peakRssMiB: Math.max(...rss), hwmMiB: Math.max(...samples.map((x) => x.hwmMiB)), lastRssMiB: rss.at(-1) };
    },
  };
}

/** Logs `what` with the seconds since the scenario's start. */
export function stepLogger(name) {
  const t0 = Date.now();
  const step = (what) => console.log(`${name}: ${((Date.now() - t0) / 1000).toFixed(1)}s ${what}`);
  step.elapsed = () => ((Date.now() - t0) / 1000).toFixed(1);
  return step;
}

/** SIGTERM, and wait for code-server to exit (at most 10 s). */
export async function stopCodeServer(handle) {
  if (handle.proc.exitCode !== null || handle.proc.signalCode !== null) return;
  const exited = new Promise((ok) => handle.proc.once('exit', ok));
  handle.proc.kill('SIGTERM');
  await Promise.race([exited, new Promise((ok) => setTimeout(ok, 10_000))]);
}

/**
 * After the scenario (code-server stopped): a passing run leaves no scratch behind, a failing one
 * keeps it to look at. The extension host may still write its run history while it shuts down
 * after code-server has gone, so the folder is removed a moment later, and again; a failure to
 * remove it is reported, never a failed scenario.
 */
export async function cleanUp(s, failed) {
  if (failed) { console.error(`(the scenario's profile and workspace are kept in ${s.scratch})`); return; }
  const remove = () => { try { rmSync(s.scratch, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 }); } catch (e) { console.log(`(could not remove ${s.scratch} yet: ${e.code})`); } };
  await new Promise((ok) => setTimeout(ok, 1500));
  remove();
  await new Promise((ok) => setTimeout(ok, 1500));
  remove();
}
