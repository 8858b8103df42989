// The RWKV-LM-V7 folder of the pretraining tutorial (../shared/seeds), made as a user makes it,
// for the code-server scenario: data/demo.jsonl (single-digit sums, which the World tokenizer
// reads byte by byte, so ids stay below 64), `python make_data.py demo.jsonl 30 2` (the engine's
// make-data), the tutorial's demo-training-prepare.sh and demo-training-run.sh
// (server/test/fixtures/tutorials/pretrain-*.sh) shrunk by their own variables for a CPU as
// test/unit/pretrainTutorial.test.ts does (L1-D64, CTX_LEN 2, M_BSZ 4032: 10 steps a mini-epoch),
// prepare run by bash (rwkv-init.pth), and the run script as written (L12-D768, ctx 4096, a GPU)
// beside them for the editor's estimate.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const TUTORIALS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'server', 'test', 'fixtures', 'tutorials');
export const PROJ = 'out/L1-D64-x070';
export const CTX = 2, M_BSZ = 4032;
/** The tutorial's run script as written, for the estimate lens. */
export const FULL_SCRIPT = 'demo-training-run-L12-D768.sh';

/** Lines of 1 to 6 sums ("3+4=7."), deterministic: lengths vary, so the histogram has bars. */
export function tutorialJsonl(lines = 360) {
  let seed = 7;
  const rand = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
  const out = [];
  for (let i = 0; i < lines; i++) {
    let text = '';
    const sums = 1 + rand(6);
    for (let j = 0; j < sums; j++) { const a = rand(10), b = rand(10 - a); text += `${a}+${b}=${a + b}.`; }
    out.push(JSON.stringify({ text }));
  }
  return out.join('\n') + '\n';
}

/** The tutorial's edits: its variables, and the literals make_data.py printed. */
export function editScript(name, vars, literals) {
  let text = readFileSync(join(TUTORIALS, name), 'utf8');
  for (const [k, v] of Object.entries(vars)) {
    const re = new RegExp(`^${k}=.*$`, 'm');
    if (!re.test(text)) throw new Error(`${name} assigns no ${k}`);
    text = text.replace(re, `${k}="${v}"`);
  }
  for (const [flag, v] of Object.entries(literals)) {
    const re = new RegExp(`--${flag} ("?)[^ "]+\\1`);
    if (!re.test(text)) throw new Error(`${name} passes no --${flag}`);
    text = text.replace(re, `--${flag} ${v}`);
  }
  return text;
}

/**
 * Makes the folder at `ws`. With `engine` (dist/bin/rwkv-train): make-data and prepare run, and
 * { exitTokens, magicPrime, steps } come back; without: only the jsonl and scripts (for the fake).
 */
export function makePretrainWorkspace(ws, engine) {
  mkdirSync(join(ws, 'data'), { recursive: true });
  writeFileSync(join(ws, 'train.py'), '');  // RWKV-LM-V7's train.py, as far as the editor cares
  writeFileSync(join(ws, 'data', 'demo.jsonl'), tutorialJsonl());
  copyFileSync(join(TUTORIALS, 'pretrain-run.sh'), join(ws, FULL_SCRIPT));
  const vars = { N_LAYER: '1', N_EMBD: '64', CTX_LEN: String(CTX) };
  let info = { my_exit_tokens: 205200, magic_prime: 102547 };  // placeholders for the fake engine
  if (engine) {
    // `python X.py` is the engine: train.py is rwkv-train, make_data.py is `rwkv-train make-data`
    const bin = join(ws, '..', 'python-shim');  // beside the folder, not in the editor's explorer
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'python'), ['#!/bin/sh', 'case "$1" in', `  train.py) shift; exec "${engine}" "$@" ;;`, `  make_data.py) shift; exec "${engine}" make-data "$@" ;;`, 'esac', 'exit 2', ''].join('\n'));
    chmodSync(join(bin, 'python'), 0o755);
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
    const made = spawnSync('python', ['make_data.py', 'demo.jsonl', '30', String(CTX)], { cwd: join(ws, 'data'), env, encoding: 'utf8', timeout: 120_000 });
    if (made.status !== 0) throw new Error(`make_data: ${made.stderr}`);
    info = JSON.parse(made.stdout.trim().split('\n').pop());
  }
  const literals = { my_exit_tokens: String(info.my_exit_tokens), magic_prime: String(info.magic_prime), vocab_size: '64' };
  writeFileSync(join(ws, 'demo-training-prepare.sh'), editScript('pretrain-prepare.sh', vars, literals));
  writeFileSync(join(ws, 'demo-training-run.sh'), editScript('pretrain-run.sh', { ...vars, M_BSZ: String(M_BSZ), EPOCH_SAVE: '1' }, { ...literals, accelerator: 'cpu' }));
  if (engine) {
    const env = { ...process.env, PATH: `${join(ws, '..', 'python-shim')}:${process.env.PATH}` };
    const prep = spawnSync('bash', ['demo-training-prepare.sh'], { cwd: ws, env, encoding: 'utf8', timeout: 180_000 });
    if (prep.status !== 0 || !existsSync(join(ws, PROJ, 'rwkv-init.pth'))) throw new Error(`demo-training-prepare.sh (exit ${prep.status}): ${prep.stderr.slice(-600)}`);
  }
  // RWKV-LM stops at the first real_step whose tokens reach my_exit_tokens
  return { exitTokens: info.my_exit_tokens, magicPrime: info.magic_prime, steps: Math.ceil(info.my_exit_tokens / (CTX * M_BSZ)) };
}
