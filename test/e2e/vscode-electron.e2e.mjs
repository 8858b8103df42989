// The extension in a desktop VS Code via @vscode/test-electron, where VS Code can be
// downloaded. On machines without access to update.code.visualstudio.com this prints a clear
// SKIP (code-server.e2e.mjs covers the same scenario in VS Code's server build).
import { cpSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { root } from './dashboardHarness.mjs';
import { CACHE } from './tools.mjs';
import { prepareDemo, probeTraining } from './demoWorkspace.mjs';

const { downloadAndUnzipVSCode, runTests } = await import('@vscode/test-electron');
const skip = (why) => { console.log(`SKIP vscode-electron.e2e: ${why}`); process.exit(0); };

let executable;
try {
  // A quick probe first: the download helper retries for a long time when offline.
  const probe = await fetch('https://update.code.visualstudio.com/api/releases/stable', { signal: AbortSignal.timeout(8000) });
  if (!probe.ok) skip(`update.code.visualstudio.com answered ${probe.status}`);
  executable = await downloadAndUnzipVSCode({ version: 'stable', cachePath: join(CACHE, 'vscode-test') });
} catch (error) {
  skip(`VS Code cannot be downloaded here (${error.cause?.code ?? error.code ?? error.message})`);
}
if (!existsSync(join(root, 'dist', 'extension.js'))) skip('dist/extension.js is not built');

const ws = join(CACHE, 'electron-workspace');
rmSync(ws, { recursive: true, force: true });
cpSync(join(root, 'test', 'e2e', 'workspace'), ws, { recursive: true });
const engineBin = join(root, 'dist', 'bin', 'rwkv-train');
const whyFake = !existsSync(engineBin) ? 'dist/bin/rwkv-train is not built' : prepareDemo(engineBin, ws) ?? probeTraining(engineBin, ws);
const realEngine = !whyFake;
console.log(`vscode-electron.e2e: engine = ${realEngine ? 'real (CPU, demo model)' : `fake (${whyFake})`}`);
mkdirSync(join(ws, '.vscode'), { recursive: true });
writeFileSync(join(ws, '.vscode', 'settings.json'), JSON.stringify(realEngine ? {} : { 'rwkvStudio.enginePath': join(root, 'test', 'fake-engine', 'fake-rwkv-train.mjs') }));
process.env.FAKE_STEPS = '100000';
process.env.FAKE_STEP_MS = '40';
try {
  await runTests({
    vscodeExecutablePath: executable,
    extensionDevelopmentPath: root,
    extensionTestsPath: join(root, 'extension', 'integration', 'suite.cjs'),
    launchArgs: [ws, '--disable-extensions', '--disable-workspace-trust', '--skip-welcome'],
  });
  console.log('vscode-electron.e2e: ok');
} catch (error) {
  console.error('vscode-electron.e2e FAILED:', error);
  process.exit(1);
}
