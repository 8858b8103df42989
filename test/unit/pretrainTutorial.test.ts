// The pretraining tutorial (../shared/seeds, RWKV-LM-V7) end to end, with the scripts run by bash
// as a user runs them and `python` standing for the engine: make_data.py on a small generated
// jsonl, demo-training-prepare.sh (writes only rwkv-init.pth, exit 0), demo-training-run.sh
// (trains from it, rwkv-N.pth per mini-epoch), interrupted by SIGTERM and by SIGKILL and re-run
// with the same command (continues from the newest rwkv-N.pth), until rwkv-final.pth at
// my_exit_tokens; every step's learning rate is RWKV-LM's (train_temp/src/trainer.py's formula,
// written out below from its code). The scripts are the tutorial's (server/test/fixtures/
// tutorials/pretrain-*.sh) with the edits the tutorial asks for (its variables; data_file,
// my_exit_tokens, magic_prime from make_data) shrunk for a CPU: L1-D64, CTX_LEN 2, M_BSZ 4032
// (10 steps a mini-epoch), EPOCH_SAVE 1, and --vocab_size 64 --accelerator cpu, since the
// generated text (single-digit sums) tokenizes to single bytes. Also: the demo's assertions
// (M_BSZ 256, a wrong magic_prime) stop with an `error` event, not a stack trace.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';

const root = resolve(__dirname, '..', '..');
const engine = join(root, 'dist', 'bin', 'rwkv-train');
const fixtures = join(root, 'server', 'test', 'fixtures', 'tutorials');
const skip = existsSync(engine) ? false : 'dist/bin/rwkv-train is not built (npm run build:engine)';
const ws = mkdtempSync(join(tmpdir(), 'rwkv-lm-v7-'));  // the RWKV-LM-V7 folder
after(() => rmSync(ws, { recursive: true, force: true }));

const PROJ = 'out/L1-D64-x070';
const CTX = 2, M_BSZ = 4032, LR_INIT = 6e-4, LR_FINAL = 6e-5, WARMUP = 10;

type Ev = Record<string, unknown> & { event: string };
interface Run { code: number | null; signal: string | null; events: Ev[]; stderr: string }

/** `python X.py args` → the engine: train.py is rwkv-train, make_data.py is `rwkv-train make-data`. */
function writePythonShim(): string {
  const bin = join(ws, '.bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'python'), [
    '#!/bin/sh',
    'case "$1" in',
    `  train.py) shift; exec "${engine}" "$@" ;;`,
    `  make_data.py) shift; exec "${engine}" make-data "$@" ;;`,
    'esac',
    'echo "python shim: $1 is not part of the tutorial" >&2; exit 2',
    '',
  ].join('\n'));
  chmodSync(join(bin, 'python'), 0o755);
  return bin;
}

/** Single-digit sums ("3+4=7.") tokenize byte by byte with the World vocabulary: ids < 64. */
function writeJsonl(lines: number): void {
  let seed = 7;
  const rand = (n: number) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
  const out: string[] = [];
  for (let i = 0; i < lines; i++) {
    let text = '';
    for (let j = 0; j < 3; j++) { const a = rand(10), b = rand(10 - a); text += `${a}+${b}=${a + b}.`; }
    out.push(JSON.stringify({ text }));
  }
  writeFileSync(join(ws, 'data', 'demo.jsonl'), out.join('\n') + '\n');
}

/** The tutorial's edits: its variables, and the literals make_data.py printed. */
function editScript(name: string, vars: Record<string, string>, literals: Record<string, string>): string {
  let text = readFileSync(join(fixtures, name), 'utf8');
  for (const [k, v] of Object.entries(vars)) {
    const re = new RegExp(`^${k}=.*$`, 'm');
    assert.match(text, re, `${name} assigns ${k}`);
    text = text.replace(re, `${k}="${v}"`);
  }
  for (const [flag, v] of Object.entries(literals)) {
    const re = new RegExp(`--${flag} ("?)[^ "]+\\1`);
    assert.match(text, re, `${name} passes --${flag}`);
    text = text.replace(re, `--${flag} ${v}`);
  }
  return text;
}

const env = () => ({ ...process.env, PATH: `${join(ws, '.bin')}:${process.env.PATH}` });

function parseEvents(stdout: string): Ev[] {
  return stdout.split('\n').flatMap((l) => { try { const j = JSON.parse(l); return j && typeof j.event === 'string' ? [j as Ev] : []; } catch { return []; } });
}

/** The engine's pid: the shim execs it as bash's child. */
function childOf(pid: number): number | undefined {
  try { return Number(readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/)[0]) || undefined; } catch { return undefined; }
}

/** bash SCRIPT; `interrupt` sends `signal` to the engine the first time it returns true for an event. */
function runScript(script: string, interrupt?: { when: (e: Ev, seen: Ev[]) => boolean; signal: NodeJS.Signals }): Promise<Run> {
  return new Promise((ok, fail) => {
    const p = spawn('bash', [script], { cwd: ws, env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '', sent = false;
    const seen: Ev[] = [];
    p.stdout.setEncoding('utf8');
    p.stdout.on('data', (chunk: string) => {
      out += chunk;
      const lines = out.split('\n');
      const done = parseEvents(lines.slice(0, -1).join('\n'));
      for (const e of done.slice(seen.length)) {
        seen.push(e);
        if (interrupt && !sent && interrupt.when(e, seen)) {
          const pid = childOf(p.pid!);
          if (pid) { sent = true; process.kill(pid, interrupt.signal); }
        }
      }
    });
    p.stderr.setEncoding('utf8');
    p.stderr.on('data', (c: string) => { err += c; });
    p.on('error', fail);
    p.on('close', (code, signal) => ok({ code, signal, events: parseEvents(out), stderr: err }));
  });
}

const of = (r: Run, kind: string) => r.events.filter((e) => e.event === kind);
const one = (r: Run, kind: string) => of(r, kind)[0];
// proj_dir as RWKV-LM sees it: its train.py reads only rwkv*.pth there; the engine's run lock
// (.rwkv-train.lock, one run per proj_dir) is left out.
const files = () => readdirSync(join(ws, PROJ)).filter((f) => f !== '.rwkv-train.lock').sort();

/** RWKV-LM train_temp's learning rate (trainer.py on_train_batch_start) at real_step, global_step. */
function rwkvLmLr(realStep: number, globalStep: number, exitTokens: number, realBsz: number): number {
  const realTokens = realStep * CTX * realBsz, warmupTokens = WARMUP * CTX * realBsz;
  const progress = Math.max(0, Math.min(1, (realTokens - warmupTokens) / (Math.abs(exitTokens) - warmupTokens)));
  const f = LR_FINAL / LR_INIT;
  let lr = LR_INIT * ((0.5 + f / 2) + (0.5 - f / 2) * Math.cos(Math.PI * progress));
  if (globalStep < WARMUP) lr = lr * (0.01 + 0.99 * globalStep / WARMUP);
  return lr;
}

test('the pretraining tutorial: make_data, prepare, run, SIGTERM, SIGKILL, continue, rwkv-final.pth', { skip, timeout: 180_000 }, async () => {
  mkdirSync(join(ws, 'data'));
  writePythonShim();
  writeJsonl(360);  // x 30 copies x 19 tokens = 205200 tokens: 2.5 mini-epochs at ctx 2
  // python make_data.py demo.jsonl 30 2   (in RWKV-LM-V7/data, as the tutorial runs it)
  const made = spawnSync('python', ['make_data.py', 'demo.jsonl', '30', String(CTX)], { cwd: join(ws, 'data'), env: env(), encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
  const info = JSON.parse(made.stdout.trim().split('\n').pop()!) as { my_exit_tokens: number; magic_prime: number };
  const exitTokens = info.my_exit_tokens, magicPrime = info.magic_prime;
  assert.equal(exitTokens, 205200);
  const vars = { N_LAYER: '1', N_EMBD: '64', CTX_LEN: String(CTX) };
  const literals = { my_exit_tokens: String(exitTokens), magic_prime: String(magicPrime), vocab_size: '64' };
  writeFileSync(join(ws, 'demo-training-prepare.sh'), editScript('pretrain-prepare.sh', vars, literals));
  writeFileSync(join(ws, 'demo-training-run.sh'), editScript('pretrain-run.sh',
    { ...vars, M_BSZ: String(M_BSZ), EPOCH_SAVE: '1' }, { ...literals, accelerator: 'cpu' }));

  // sh demo-training-prepare.sh: rwkv-init.pth, nothing else, exit 0
  const prep = await runScript('demo-training-prepare.sh');
  assert.equal(prep.code, 0, prep.stderr);
  assert.deepEqual(files(), ['rwkv-init.pth']);
  assert.equal(one(prep, 'end')?.status, 'completed');
  assert.match(prep.stderr, /Done\. Now go for stage 2\./);
  assert.ok(!of(prep, 'error').length && !of(prep, 'step').length);

  const realBsz = M_BSZ, epochSteps = 40320 / realBsz;
  const checkLr = (r: Run) => {
    for (const e of of(r, 'step')) {
      const global = Number(e.step) - 1, real = Number(e.real_step) - 1;
      assert.ok(Math.abs(Number(e.lr) - rwkvLmLr(real, global, exitTokens, realBsz)) <= 1e-12, `lr at real_step ${real}: ${e.lr}`);
    }
  };

  // sh demo-training-run.sh: trains from rwkv-init.pth; SIGTERM in mini-epoch 1
  const run1 = await runScript('demo-training-run.sh', { when: (e) => e.event === 'step' && e.epoch === 1, signal: 'SIGTERM' });
  assert.equal(run1.code, 0, run1.stderr);
  const start1 = one(run1, 'start') as Ev & { loaded_from: string; epoch_begin: number; rwkv_lm: Record<string, number> };
  assert.equal(start1.loaded_from, `${PROJ}/rwkv-init.pth`);
  assert.equal(start1.epoch_begin, 0);
  assert.equal(start1.rwkv_lm.epoch_steps, epochSteps);
  assert.equal(start1.rwkv_lm.adam_eps, Math.fround(1e-18));  // the float the optimizer uses
  assert.equal(one(run1, 'end')?.status, 'stopped');
  // what Resume (the same command) continues from, for the extension's "Resume" offer
  assert.equal(of(run1, 'checkpoint').filter((c) => c.kind === 'resume').at(-1)?.path, `${PROJ}/rwkv-0.pth`);
  assert.deepEqual(files(), ['metrics.jsonl', 'rwkv-0.pth', 'rwkv-init.pth']);
  checkLr(run1);

  // the same command again: continues from rwkv-0.pth (mini-epoch 1); SIGKILL in mini-epoch 2
  const run2 = await runScript('demo-training-run.sh', { when: (e) => e.event === 'step' && e.epoch === 2, signal: 'SIGKILL' });
  assert.equal(run2.code, 137, 'bash reports the killed engine');
  const start2 = one(run2, 'start') as Ev & { loaded_from: string; epoch_begin: number };
  assert.equal(start2.loaded_from, `${PROJ}/rwkv-0.pth`);
  assert.equal(start2.epoch_begin, 1);
  assert.ok(!of(run2, 'end').length, 'killed: no end event');
  assert.ok(files().includes('rwkv-1.pth'));
  checkLr(run2);

  // and again: continues from rwkv-1.pth until my_exit_tokens, ends with rwkv-final.pth
  const run3 = await runScript('demo-training-run.sh');
  assert.equal(run3.code, 0, run3.stderr);
  const start3 = one(run3, 'start') as Ev & { loaded_from: string; epoch_begin: number };
  assert.equal(start3.loaded_from, `${PROJ}/rwkv-1.pth`);
  assert.equal(start3.epoch_begin, 2);
  assert.equal(one(run3, 'end')?.status, 'completed');
  const steps3 = of(run3, 'step');
  // RWKV-LM stops at the first real_step whose tokens reach my_exit_tokens
  assert.equal(Number(steps3.at(-1)!.real_step), Math.ceil(exitTokens / (CTX * realBsz)));
  checkLr(run3);
  assert.deepEqual(files(), ['metrics.jsonl', 'rwkv-0.pth', 'rwkv-1.pth', 'rwkv-final.pth', 'rwkv-init.pth']);
  const first = Number(of(run1, 'step')[0]!.loss), last = Number(steps3.at(-1)!.loss);
  assert.ok(last < first * 0.6, `the loss falls across the three launches: ${first} -> ${last}`);
});

test("the demo's own assertions stop with an error event: M_BSZ 256, a magic_prime of other data", { skip, timeout: 60_000 }, async () => {
  assert.ok(existsSync(join(ws, 'demo-training-run.sh')), 'runs after the tutorial test');
  const script = readFileSync(join(ws, 'demo-training-run.sh'), 'utf8');
  writeFileSync(join(ws, 'bad-bsz.sh'), script.replace(/^M_BSZ=.*$/m, 'M_BSZ="256"'));
  const bsz = await runScript('bad-bsz.sh');
  assert.notEqual(bsz.code, 0);
  assert.equal(one(bsz, 'error')?.code, 'E_LM_EPOCH_STEPS');
  assert.match(String(one(bsz, 'error')?.hint), /--micro_bsz 252 or 280/);
  assert.doesNotMatch(bsz.stderr, /Traceback|terminate called/);
  writeFileSync(join(ws, 'bad-prime.sh'), script.replace(/--magic_prime \d+/, '--magic_prime 2926181'));
  const prime = await runScript('bad-prime.sh');
  assert.notEqual(prime.code, 0);
  assert.equal(one(prime, 'error')?.code, 'E_LM_MAGIC_PRIME');
});
