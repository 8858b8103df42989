// A training script whose values hold command substitutions, backticks, `;`, `&&`, pipes,
// redirections and paths outside the workspace goes from the language server's reading
// (Analyzer + rwkv/resolveRuns, as Run Training asks for it) to the run manager's spawn as an
// argv array: nothing but the engine runs, and no canary file any of those values would create
// appears. Run with the fake engine (which reports the argv it got) and, where it is built, the
// real one.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { RunManager } from '../../extension/src/runs/runManager';
import type { RunRecord } from '../../extension/src/runs/runRecord';
import { FactsCache } from '../../server/src/facts/cache';
import { unavailableFacts } from '../../server/src/facts/loadFacts';
import { Analyzer } from '../../server/src/lsp/analysis';
import { resolveRuns } from '../../server/src/lsp/resolveRuns';

const root = resolve(__dirname, '..', '..');
const ws = mkdtempSync(join(tmpdir(), 'rwkv-argv-safety-'));
const outside = mkdtempSync(join(tmpdir(), 'rwkv-argv-outside-'));
after(() => { rmSync(ws, { recursive: true, force: true }); rmSync(outside, { recursive: true, force: true }); });
const c = (name: string) => join(ws, `CANARY_${name}`);
const SCRIPT = [
  '#!/bin/bash',
  `out=$(touch ${c('assignment')})`,
  `python train.py --load_model "$(touch ${c('subst')})" --proj_dir "${ws}/out; touch ${c('semicolon')}" \\`,
  `  --data_file \`touch ${c('backtick')}\` --wandb 'x && touch ${c('and')}' --run_name "a|touch ${c('pipe')}" \\`,
  `  --lr_init '1e-4 > ${c('redirect')}' --my_testing "$out" --data_type "binidx\${IFS}\$(touch ${c('ifs')})" \\`,
  `  --vocab_size 24 --n_layer 2 --n_embd 64 --ctx_len 16 --accelerator cpu --epoch_save "../../..${outside}/x"`,
  '',
].join('\n');
const canaries = ['assignment', 'subst', 'semicolon', 'backtick', 'and', 'pipe', 'redirect', 'ifs'].map(c);
const noCanary = () => {
  for (const p of canaries) assert.equal(existsSync(p), false, `${p} was created: something ran a shell`);
  assert.deepEqual(readdirSync(outside), [], 'nothing was written outside the workspace');
};

async function resolvedRun() {
  const analyzer = new Analyzer(new FactsCache(unavailableFacts('test')), () => {});
  const uri = `file://${ws}/train.sh`;
  writeFileSync(join(ws, 'train.sh'), SCRIPT);
  const runs = resolveRuns(await analyzer.update(TextDocument.create(uri, 'shellscript', 1, SCRIPT))).runs;
  assert.equal(runs.length, 1);
  return runs[0];
}
function finished(m: RunManager, id: string): Promise<RunRecord> {
  return new Promise((done) => {
    const check = () => { const r = m.get(id)!; if (!['starting', 'running', 'stopping'].includes(r.status)) { m.off('update', check); done(r); } };
    m.on('update', check);
    check();
  });
}

test('the server keeps every shell metacharacter inside its argv word and says which values it could not know', async () => {
  const run = await resolvedRun();
  const value = (flag: string) => run.argv[run.argv.indexOf(flag) + 1];
  assert.equal(value('--load_model'), `$(touch ${c('subst')})`);
  assert.equal(value('--proj_dir'), `${ws}/out; touch ${c('semicolon')}`);
  assert.equal(value('--wandb'), `x && touch ${c('and')}`);
  assert.equal(value('--run_name'), `a|touch ${c('pipe')}`);
  assert.equal(value('--lr_init'), `1e-4 > ${c('redirect')}`);
  assert.ok(run.unresolved.length >= 2, `unresolved: ${JSON.stringify(run.unresolved)}`);
  assert.equal(run.cwd, ws);
  noCanary();
});

test('the run manager hands that argv to the engine unchanged: the fake engine reports it, no canary appears', async () => {
  const run = await resolvedRun();
  const m = new RunManager({ enginePath: () => join(root, 'test/fake-engine/fake-rwkv-train.mjs'), historyDir: join(ws, '.history-fake') });
  const r = m.start({ title: 'train.sh:3', argv: run.argv, cwd: run.cwd, env: run.env });
  const done = await finished(m, r.id);
  assert.deepEqual((done.start?.config as { argv: string[] }).argv, run.argv);
  noCanary();
});

test('the real engine given that argv refuses it with an error event and runs nothing', { skip: existsSync(join(root, 'dist/bin/rwkv-train')) ? false : 'dist/bin/rwkv-train is not built' }, async () => {
  const run = await resolvedRun();
  const m = new RunManager({ enginePath: () => join(root, 'dist/bin/rwkv-train'), historyDir: join(ws, '.history-real') });
  const r = m.start({ title: 'train.sh:3', argv: run.argv, cwd: run.cwd, env: run.env });
  const done = await finished(m, r.id);
  assert.equal(done.status, 'failed');
  assert.match(done.failure?.code ?? '', /^E_/);
  noCanary();
});
