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
