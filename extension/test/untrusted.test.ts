// An untrusted folder runs nothing, whichever path asks: Run Training, Resume, and the Resume /
// Run on CPU buttons of an outcome notification all go through RunController.launch, which
// checks trust first. The controller is loaded with a stand-in `vscode` module whose
// workspace.isTrusted the test sets; the same calls in a trusted folder do start the engine,
// so the test would see a missing check.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import Module from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import type { RunController as RunControllerType } from '../src/runController';
import { RunManager } from '../src/runs/runManager';
import type { RunRecord } from '../src/runs/runRecord';

const dir = mkdtempSync(join(tmpdir(), 'rwkv-untrusted-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const canary = join(dir, 'CANARY');
// an "engine" that leaves a canary file: if it ever runs, the file appears
const engine = join(dir, 'rwkv-train');
writeFileSync(engine, `#!/bin/sh\ntouch '${canary}'\necho '{"event":"end","v":1,"status":"failed"}'\nexit 2\n`);
chmodSync(engine, 0o755);

const shown: string[] = [];
let trusted = false;
let answer: string | undefined;
const stub = require(resolve('test/bench/vscodeStub.cjs')) as Record<string, unknown>;
// a plain object (the compiled `import * as vscode` copies its own keys)
const vscodeFake: Record<string, unknown> = {
  ...stub,
  workspace: { ...(stub.workspace as object), get isTrusted() { return trusted; } },
  window: {
    ...(stub.window as object),
    showWarningMessage: async (m: string) => { shown.push(m); return undefined; },
    showErrorMessage: async (m: string) => { shown.push(m); return answer; },
    showInformationMessage: async (m: string) => { shown.push(m); return answer; },
  },
};
const resolveFilename = (Module as unknown as { _resolveFilename: (...a: unknown[]) => string })._resolveFilename;
(Module as unknown as { _resolveFilename: (...a: unknown[]) => string })._resolveFilename = function (request: unknown, ...rest: unknown[]) {
  return request === 'vscode' ? 'vscode' : resolveFilename.call(this, request, ...rest);
};
(require.cache as Record<string, unknown>).vscode = { id: 'vscode', filename: 'vscode', loaded: true, exports: vscodeFake };
const { RunController } = require('../src/runController') as { RunController: typeof RunControllerType };

function controller(): { c: RunControllerType; m: RunManager; starts: () => number } {
  const m = new RunManager({ enginePath: () => engine, historyDir: join(dir, 'history') });
  let starts = 0;
  const start = m.start.bind(m);
  m.start = (...a: Parameters<RunManager['start']>) => { starts++; return start(...a); };
  const output = { append() {}, appendLine() {}, show() {}, dispose() {} };
  const c = new RunController({ subscriptions: [] } as never, m, {} as never, output as never);
  return { c, m, starts: () => starts };
}
const spec = { title: 'demo.sh:3', argv: ['--load_model', '$(touch CANARY)'], cwd: dir, env: {} };
const failedRecord = (m: RunManager): RunRecord => {
  const r = m.start(spec);  // as a run from before the folder lost its trust
  return { ...r, status: 'failed', failure: { code: 'NO_CUDA', message: 'no GPU' } };
};
const settle = () => new Promise((ok) => setTimeout(ok, 300));

test('untrusted: launch, resume and the notification buttons start nothing', async () => {
  trusted = false;
  const { c, m, starts } = controller();
  rmSync(canary, { force: true });
  const before = failedRecord(m);
  await new Promise((ok) => setTimeout(ok, 200));
  rmSync(canary, { force: true });
  const base = starts();
  assert.equal(c.launch(spec), undefined);
  c.resume(before.id);
  await c.resumeCommand(before.id);
  answer = 'Run on CPU';
  await c.reportOutcome(before);
  answer = 'Resume';
  await c.reportOutcome({ ...before, status: 'stopped' });
  assert.equal(await c.runTraining(), undefined);
  await settle();
  assert.equal(starts(), base, 'the run manager was never asked to start');
  assert.equal(existsSync(canary), false, 'the engine never ran');
  assert.ok(shown.some((s) => /trusted folder/.test(s)), shown.join(' | '));
  c.dispose?.();
});

test('trusted: the same launch does start the engine (the check above can fail)', async () => {
  trusted = true;
  answer = undefined;
  const { c, m, starts } = controller();
  rmSync(canary, { force: true });
  // reported as failed so the controller shows a notification instead of opening the dashboard
  const r = c.launch(spec, (s) => ({ ...m.start(s), status: 'failed', failure: { code: 'X', message: 'x' } }));
  assert.ok(r);
  await settle();
  assert.equal(starts(), 1);
  assert.equal(existsSync(canary), true, 'the stand-in engine ran and left its canary');
  c.dispose?.();
});
