// The manifest's contributions agree with the code: every command the code registers is
// declared (and vice versa), the problem matcher parses the lines the task terminal writes,
// grammar files exist.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';

const manifest = JSON.parse(readFileSync('package.json', 'utf8'));

test('declared commands = registered commands', () => {
  const source = readFileSync('extension/src/extension.ts', 'utf8');
  const registered = [...source.matchAll(/registerCommand\('([\w.]+)'/g)].map((m) => m[1]).sort();
  const declared = manifest.contributes.commands.map((c: { command: string }) => c.command).sort();
  assert.deepEqual(declared, registered);
  for (const c of ['runTraining', 'stopTraining', 'resumeTraining', 'openDashboard', 'openRun', 'compareRuns', 'attachLog', 'showGpus']) {
    assert.ok(declared.includes(`rwkvStudio.${c}`), c);
  }
});

test('the rwkv-train problem matcher reads the task terminal\'s error lines', () => {
  const matcher = manifest.contributes.problemMatchers.find((m: { name: string }) => m.name === 'rwkv-train');
  const re = new RegExp(matcher.pattern.regexp);
  // the format TrainingTerminal writes for error and warning events
  const m = re.exec('/work/scripts/lora.sh:12:1: error: data file not found: data/x.bin [DATA_MISSING]')!;
  assert.ok(m);
  assert.deepEqual([m[matcher.pattern.file], m[matcher.pattern.line], m[matcher.pattern.column], m[matcher.pattern.severity], m[matcher.pattern.message], m[matcher.pattern.code]],
    ['/work/scripts/lora.sh', '12', '1', 'error', 'data file not found: data/x.bin', 'DATA_MISSING']);
  const w = re.exec('a.sh:3:1: warning: lr_final > lr_init []')!;
  assert.equal(w[matcher.pattern.severity], 'warning');
  assert.equal(re.exec('step 12/100 loss 2.3'), null);
  const task = readFileSync('extension/src/taskProvider.ts', 'utf8');
  assert.match(task, /\$\{uri\.fsPath\}:\$\{line\}:1: \$\{e\.event\}: /, 'the terminal writes that format');
});

test('grammars, walkthrough media and l10n folder named in the manifest exist', () => {
  for (const g of manifest.contributes.grammars) assert.ok(existsSync(g.path), g.path);
  for (const s of manifest.contributes.walkthroughs[0].steps) assert.ok(existsSync(s.media.markdown), s.media.markdown);
  assert.ok(existsSync(`${manifest.l10n}/bundle.l10n.zh-cn.json`));
  assert.equal(manifest.main, './dist/extension.js');
  assert.ok(manifest.capabilities.untrustedWorkspaces.supported === 'limited');
});

test('F5 debugs the extension with the language server attached, and .vscode stays out of the VSIX', () => {
  const launch = JSON.parse(readFileSync('.vscode/launch.json', 'utf8'));
  const tasks = JSON.parse(readFileSync('.vscode/tasks.json', 'utf8'));
  const host = launch.configurations.find((c: { type: string }) => c.type === 'extensionHost');
  const attach = launch.configurations.find((c: { type: string; request: string }) => c.type === 'node' && c.request === 'attach');
  assert.ok(host && attach);
  // the port the client starts the server's inspector on in debug mode
  const client = readFileSync('extension/src/serverClient.ts', 'utf8');
  assert.equal(String(attach.port), /--inspect=(\d+)/.exec(client)?.[1]);
  assert.ok(tasks.tasks.some((t: { label: string }) => t.label === host.preLaunchTask), 'the pre-launch task exists');
  const compound = launch.compounds.find((c: { configurations: string[] }) => c.configurations.includes(host.name) && c.configurations.includes(attach.name));
  assert.ok(compound, 'one compound launches both');
  // .vscodeignore is a whitelist: ** first, and nothing under .vscode is let back in
  const ignore = readFileSync('.vscodeignore', 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  assert.equal(ignore[0], '**');
  assert.ok(!ignore.some((l) => l.startsWith('!') && (l.includes('.vscode') || l === '!**' || l === '!*')));
});
