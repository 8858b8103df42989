// Runs inside a desktop VS Code started by @vscode/test-electron (test/e2e/vscode-electron.e2e.mjs).
// The same scenario as the code-server test, through the extension's API instead of clicks:
// diagnostics of a script with mistakes, Run Training on the demo script, points arrive, stop.
const assert = require('node:assert/strict');
const path = require('node:path');
const vscode = require('vscode');

const wait = (ms) => new Promise((ok) => setTimeout(ok, ms));
async function until(what, check, timeoutMs = 60_000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await wait(200);
  }
}

exports.run = async function run() {
  const folder = vscode.workspace.workspaceFolders[0].uri.fsPath;
  const extension = vscode.extensions.getExtension('rwkv-studio.rwkv-studio');
  assert.ok(extension, 'the extension is installed');
  const api = await extension.activate();

  const typo = vscode.Uri.file(path.join(folder, 'typo.sh'));
  await vscode.window.showTextDocument(typo);
  const diagnostics = await until('diagnostics', () => { const d = vscode.languages.getDiagnostics(typo); return d.length ? d : undefined; });
  assert.ok(diagnostics.some((d) => d.severity === vscode.DiagnosticSeverity.Error), 'an error in typo.sh');

  const demo = vscode.Uri.file(path.join(folder, 'demo.sh'));
  await vscode.window.showTextDocument(demo);
  const record = await vscode.commands.executeCommand('rwkvStudio.runTraining', demo, 9);
  assert.ok(record && record.id, 'a run started');
  await until('20 steps', () => (api.manager.get(record.id).stepCount >= 20));
  await vscode.commands.executeCommand('rwkvStudio.stopTraining', record.id);
  const done = api.manager.get(record.id);
  assert.equal(done.status, 'stopped');
  assert.equal(done.spec.env.CUDA_VISIBLE_DEVICES, '0');
  assert.equal(done.spec.cwd, folder);
  console.log(`vscode-electron suite: ok (${done.stepCount} steps, stopped)`);
};
