// rwkv-train under faults and hostile input (issue 14), bounded for `npm test`: a SIGKILL soak of
// a few trials (test/faults/engineSoak.mjs; `npm run bench -- faults` runs the long one), a
// read-only proj_dir, the dataset or base model changed or deleted under a running run (and the
// .bin truncated in the window between the engine's check and its read: test/faults/dataWindow.mjs), a
// 100,000-word command line and a command line of binary garbage. Each ends in an `error` event
// with a hint (or, where nothing is wrong for the run, goes on), never a signal death.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, truncateSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { dataWindowTrials } from '../faults/dataWindow.mjs';
import { launch, makeSoakWorld, soak, STEPS_PER_EPOCH } from '../faults/engineSoak.mjs';
import { checkZipWhole } from '../faults/zipCheck.mjs';

const engine = resolve(__dirname, '..', '..', 'dist', 'bin', 'rwkv-train');
const skip = existsSync(engine) ? false : 'dist/bin/rwkv-train is not built (npm run build:engine)';
const dir = mkdtempSync(join(tmpdir(), 'rwkv-engine-faults-'));
chmodSync(dir, 0o755);  // the read-only test runs the engine as another user
after(() => rmSync(dir, { recursive: true, force: true }));
const world = skip ? undefined : makeSoakWorld(engine, dir);

type Ev = Record<string, unknown> & { event: string };
function events(stdout: string): Ev[] {
  return stdout.split('\n').flatMap((l) => { try { const e = JSON.parse(l); return e && typeof e.event === 'string' ? [e] : []; } catch { return []; } });
}
const errorOf = (evs: Ev[]) => evs.find((e) => e.event === 'error') as { code: string; message: string; hint: string } | undefined;

test('SIGKILL at random moments: every file left loads, resumes lose at most one epoch and repeat the losses exactly', { skip, timeout: 120_000 }, async () => {
  const f = await soak(world!, { trials: 6, killsPerTrial: 3, seed: 11 });
  console.log(`engine soak: ${f.trials} trials, ${f.kills} kills (${JSON.stringify(f.killsByKind)}), max steps lost ${f.maxStepsLost}, ` +
    `${f.filesChecked} files checked, ${f.stepsCompared} steps compared, ${f.lossMismatches} mismatches`);
  assert.deepEqual(f.problems, []);
  assert.ok(f.kills >= 6, `${f.kills} kills landed`);
  assert.ok(f.killsByKind['mid-checkpoint'] > 0 && f.killsByKind['mid-step'] > 0, JSON.stringify(f.killsByKind));
  assert.ok(f.maxStepsLost <= STEPS_PER_EPOCH);
  assert.equal(f.lossMismatches + f.badFiles + f.staleTemps + f.badMetricLines + f.finalFilesDiffer + f.failedLaunches, 0);
});

test('a read-only proj_dir is an error event with a hint, not a crash', { skip, timeout: 60_000 }, () => {
  const ro = join(dir, 'readonly');
  mkdirSync(ro);
  chmodSync(ro, 0o555);
  // root writes anywhere: run the engine as nobody, for whom the folder is read-only
  const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
  for (const projDir of [ro, join(ro, 'sub')]) {
    const r = spawnSync(engine, world!.argv(projDir, 'full'), { encoding: 'utf8', timeout: 30_000, ...asUser });
    assert.equal(r.signal, null);
    assert.equal(r.status, 1, r.stderr);
    const e = errorOf(events(r.stdout));
    assert.ok(e, r.stdout);
    assert.match(e.code, /^E_(PROJ_DIR|IO_MKDIR|IO_PERMISSION)$/);
    assert.match(e.message, /denied|read-only/i);
    assert.ok(e.hint.length > 10, e.hint);
    assert.ok(!/terminate called|what\(\)/.test(r.stderr), r.stderr);
  }
});

/** Starts a long run; once `atStep` steps are reported calls `act`, then collects everything. */
function runAndAct(argv: string[], atStep: number, act: (child: ReturnType<typeof spawn>) => void): Promise<{ code: number | null; signal: string | null; events: Ev[] }> {
  return new Promise((done) => {
    const child = spawn(engine, argv, { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, OMP_NUM_THREADS: '1' } });
    let out = '', acted = false;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (t: string) => {
      out += t;
      if (!acted && (out.match(/"event":"step"/g)?.length ?? 0) >= atStep) { acted = true; act(child); }
    });
    child.on('close', (code, signal) => done({ code, signal, events: events(out) }));
  });
}
const longRun = (projDir: string, dataPrefix: string, base: string) => {
  const argv = world!.argv(projDir, 'lora');
  argv[argv.indexOf('--data_file') + 1] = dataPrefix;
  argv[argv.indexOf('--load_model') + 1] = base;
  argv[argv.indexOf('--epoch_steps') + 1] = '400';
  argv[argv.indexOf('--epoch_count') + 1] = '50';
  return argv;
};

test('the dataset truncated, replaced or deleted under a running run: E_DATA_CHANGED, the last finished step saved', { skip, timeout: 120_000 }, async () => {
  const cases: [string, (prefix: string) => void][] = [
    ['truncated', (p) => truncateSync(`${p}.bin`, 100)],
    ['replaced', (p) => { copyFileSync(`${p}.bin`, `${p}.new`); renameSync(`${p}.new`, `${p}.bin`); }],
    ['deleted', (p) => unlinkSync(`${p}.idx`)],
  ];
  for (const [what, change] of cases) {
    const prefix = join(dir, `data-${what}`);
    copyFileSync(join(dir, 'data.bin'), `${prefix}.bin`);
    copyFileSync(join(dir, 'data.idx'), `${prefix}.idx`);
    const projDir = join(dir, `changed-${what}`);
    const r = await runAndAct(longRun(projDir, prefix, join(dir, 'base.pth')), 5, () => change(prefix));
    assert.equal(r.signal, null, `${what}: no SIGBUS`);
    assert.notEqual(r.code, 0);
    const e = errorOf(r.events);
    assert.equal(e?.code, 'E_DATA_CHANGED', `${what}: ${JSON.stringify(e)}`);
    assert.match(e!.message, new RegExp(what === 'truncated' ? 'rewritten' : what));
    assert.match(e!.hint, /same command/);
    assert.equal(r.events.at(-1)?.event, 'end');
    assert.equal(checkZipWhole(join(projDir, 'rwkv-resume.pth')), undefined, `${what}: the resume file is whole`);
    // the data put back, the same command continues from the last finished step
    copyFileSync(join(dir, 'data.bin'), `${prefix}.bin`);
    copyFileSync(join(dir, 'data.idx'), `${prefix}.idx`);
    const lastStep = Math.max(...r.events.filter((x) => x.event === 'step').map((x) => x.step as number));
    const again = await runAndAct(longRun(projDir, prefix, join(dir, 'base.pth')), 1, (child) => child.kill('SIGTERM'));
    const start = again.events.find((x) => x.event === 'start') as { resumed_from_step: number } | undefined;
    assert.equal(start?.resumed_from_step, lastStep, `${what}: resumed where it stopped`);
    assert.ok(!again.events.some((x) => x.event === 'warning' && x.code === 'W_RESUME_DATA_CHANGED'), `${what}: same data, no warning`);
  }
});

test('the .bin truncated between the check and the read (the SIGBUS window): E_DATA_CHANGED from the read itself, exit 2, the last finished step saved', { skip, timeout: 120_000 }, async () => {
  const f = await dataWindowTrials(world!, { trials: 3, seed: 7 });
  console.log(`SIGBUS window: ${f.trials} truncations met by the read, ${f.dataChanged} E_DATA_CHANGED (exit 2), ` +
    `${f.signalDeaths} signal deaths, ${f.resumedAtLastStep} resumed at the last finished step; worst ${f.worstMs} ms from truncation to exit`);
  assert.deepEqual(f.problems, []);
  assert.equal(f.dataChanged, f.trials);
  assert.equal(f.resumeWhole, f.trials);
  assert.equal(f.resumedAtLastStep, f.trials);
  assert.ok(f.worstMs < 30_000, `${f.worstMs} ms`);
});

test('the base model deleted under a running run: the run goes on from memory; a resume without it is E_LOAD_MODEL, with it no false W_RESUME_BASE_CHANGED', { skip, timeout: 120_000 }, async () => {
  const base = join(dir, 'base-deleted.pth');
  copyFileSync(join(dir, 'base.pth'), base);
  const projDir = join(dir, 'base-deleted');
  const argv = longRun(projDir, join(dir, 'data'), base);
  argv[argv.indexOf('--epoch_steps') + 1] = '8';
  argv[argv.indexOf('--epoch_count') + 1] = '3';
  const r = await runAndAct(argv, 2, () => unlinkSync(base));
  assert.equal(r.code, 0);
  assert.equal(r.events.at(-1)?.status, 'completed');
  for (const c of r.events.filter((e) => e.event === 'checkpoint')) assert.equal(checkZipWhole(c.path as string), undefined);
  const missing = spawnSync(engine, argv, { encoding: 'utf8' });
  assert.equal(errorOf(events(missing.stdout))?.code, 'E_LOAD_MODEL');
  // the resume file records the base as it was loaded (not the size of a missing file)
  copyFileSync(join(dir, 'base.pth'), base);
  argv[argv.indexOf('--epoch_count') + 1] = '4';
  const resumed = events(spawnSync(engine, argv, { encoding: 'utf8' }).stdout);
  assert.equal(resumed.at(-1)?.status, 'completed');
  assert.ok(!resumed.some((e) => e.code === 'W_RESUME_BASE_CHANGED'), JSON.stringify(resumed.filter((e) => e.event === 'warning')));
});

test('a 100,000-word command line and one of binary garbage: an error event each, in bounded time', { skip, timeout: 60_000 }, () => {
  // as long as execve takes (ARG_MAX 2 MiB counts the strings and the pointer array)
  const many: string[] = [];
  for (let i = 0; i < 50_000; i++) many.push('--micro_bsz', String(1 + (i % 9)));
  const unknown = Array.from({ length: 100_000 }, (_, i) => `--f${i}`);
  let seed = 3;
  const byte = () => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return 1 + ((seed >>> 8) % 255); };  // argv holds no NUL
  const garbage = Array.from({ length: 3000 }, (_, i) => Buffer.from(Array.from({ length: 1 + (i % 60) }, byte)).toString('latin1'));
  const garbageFlags = garbage.map((g) => `--${g}`);
  for (const [name, args, code] of [['100k valid', many, 'E_FLAG_VALUE'], ['100k unknown', unknown, 'E_FLAG_UNKNOWN'],
    ['garbage', garbage, 'E_CLI_UNKNOWN_COMMAND'], ['garbage flags', garbageFlags, 'E_FLAG_UNKNOWN']] as const) {
    const t0 = Date.now();
    // latin1 strings pass each byte unchanged: the engine sees bytes that are not UTF-8
    const r = spawnSync(engine, args.map((a) => Buffer.from(a, 'latin1')) as unknown as string[], { encoding: 'utf8', timeout: 30_000 });
    const ms = Date.now() - t0;
    console.log(`${name}: ${args.length} words, exit ${r.status} in ${ms} ms`);
    assert.equal(r.error, undefined, `${name}: ${r.error?.message}`);
    assert.equal(r.signal, null);
    assert.equal(r.status, 1);
    const lines = r.stdout.split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 1, `${name}: stdout is one event: ${r.stdout.slice(0, 300)}`);
    assert.equal(errorOf(events(r.stdout))?.code, code, `${name}: ${r.stdout.slice(0, 300)}`);
    assert.ok(!r.stdout.includes('\uFFFD') || name.startsWith('garbage'), 'bytes that are not UTF-8 are written as U+FFFD');
    assert.ok(ms < 15_000, `${name}: ${ms} ms`);
  }
});
