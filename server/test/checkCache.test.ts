// runChecks with a document's CheckCache (the per-run findings of runs an edit left as they were,
// reused) must give exactly the findings of checking a whole fresh parse, after any sequence of
// edits: a property over random edit sequences (several seeds) of the tutorials' scripts, the
// check fixtures' scripts and the bench's four-run script, with facts (checkpoints, datasets,
// GPUs, the engine's answers) from the fake world through the server's FactsCache.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runChecks } from '../src/checks';
import { CheckCache } from '../src/checks/checkCache';
import { FactsCache } from '../src/facts/cache';
import type { FactsSnapshot } from '../src/facts/snapshot';
import { gatherFacts } from '../src/facts/gather';
import { ShellParseCache } from '../src/parse/shellParseCache';
import { parseShellScript } from '../src/parse/shellScript';
import { FIXTURES, fakeFacts, fakeFiles, world } from './fakeWorld';

const PIECES = ['"', "'", '\\', '\n', ' ', 'x', '1', '0', ';', '$n_layer', '${ctx_len}', 'export A\n', 'unset load_model\n', 'n_layer=12\n', 'cd x\n',
  ' --n_layer 32', ' --my_testing x060', ' --peft pissa', ' --lr_init 1e-3', ' --magic_prime 3011', ' --accelerator cpu', ' --ctx_len 500',
  ' --peft_config \'{"r":8,"lora_alpha":64}\'', ' --data_type jsonl', ' --quant nf4', '\npython train.py --load_model /x.pth --n_layer 24\n', 'set -e\n', 'if true; then\n', 'fi\n'];

function sources(): string[] {
  const out: string[] = [];
  const tutorials = join(FIXTURES, 'tutorials');
  for (const f of readdirSync(tutorials)) if (f.endsWith('.sh')) out.push(readFileSync(join(tutorials, f), 'utf8'));
  for (const code of readdirSync(join(FIXTURES, 'checks'))) {
    for (const f of readdirSync(join(FIXTURES, 'checks', code))) if (f.endsWith('.sh')) out.push(readFileSync(join(FIXTURES, 'checks', code, f), 'utf8'));
  }
  out.push(readFileSync(join(__dirname, '../../test/bench/fixtures/tutorial-four-runs.sh'), 'utf8'));
  return out;
}

test('checks with the cache give the findings of a fresh parse after every random edit', async () => {
  const all = sources();
  // the facts come through FactsCache, as in the server: the same answer is the same object
  const facts = new FactsCache(fakeFacts(), 60_000, (p) => fakeFiles().kind(p));
  let reused = 0;
  let edits = 0;
  for (const seed0 of [1, 7]) {
    let seed = seed0;
    const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
    for (const source of all) {
      const shellCache = new ShellParseCache();
      const checkCache = new CheckCache();
      let text = source;
      let at = rnd(text.length + 1);
      for (let k = 0; k < 12; k++) {
        // like typing: mostly near the last edit, sometimes anywhere, sometimes back to the start
        if (rnd(4) === 0) at = rnd(text.length + 1);
        at = Math.min(at, text.length);
        if (rnd(10) === 0) text = source;
        else if (rnd(3) === 0) text = text.slice(0, at) + text.slice(at + 1 + rnd(4));
        else { const p = PIECES[rnd(PIECES.length)]!; text = text.slice(0, at) + p + text.slice(at); at += p.length; }
        edits++;
        const config = parseShellScript(text, shellCache);
        const got = runChecks(config, await gatherFacts(config, { cwd: world.cwd, ...facts.view(false) }), undefined, checkCache);
        reused += checkCache.reused;
        const fresh = parseShellScript(text);
        const want = runChecks(fresh, await gatherFacts(fresh, { cwd: world.cwd, ...facts.view(false) }));
        assert.equal(JSON.stringify(got), JSON.stringify(want), `seed ${seed0}, edit ${k} of a ${source.length}-character script`);
      }
    }
  }
  assert.ok(reused > edits, `per-run findings are reused (${reused} check results over ${edits} edits)`);
  console.log(`${edits} random edits of ${all.length} scripts, 2 seeds: the same findings; ${reused} per-run check results reused`);
});

const CALL = 'python train.py --load_model /home/rwkv/RWKV-PEFT/models/rwkv7-g1-0.1b.pth --n_layer $N_LAYERS --n_embd 768 --my_testing x070 --data_file d --data_type binidx --vocab_size 65536\n';

/** Typing into the second of two calls: the walk resumes after the first, whose run is the same object. */
async function typing(facts: FactsCache) {
  const shellCache = new ShellParseCache();
  const checkCache = new CheckCache();
  const check = async (text: string, edit?: (s: FactsSnapshot) => FactsSnapshot) => {
    const config = parseShellScript(text, shellCache);
    const snapshot = await gatherFacts(config, { cwd: world.cwd, ...facts.view(false) });
    return { config, findings: runChecks(config, edit ? edit(snapshot) : snapshot, undefined, checkCache), fresh: runChecks(parseShellScript(text), edit ? edit(snapshot) : snapshot) };
  };
  const typed = (s: string, after = ''): string => CALL + CALL.replace('--vocab_size 65536', `--vocab_size 65536${s}`) + after;
  await check(typed(''));
  const a = await check(typed(' -'));
  return { check, typed, checkCache, first: a.config.runs[0] };
}

test('a run the edit left as it was is reused, and checked again when its facts change', async () => {
  const { check, typed, checkCache, first } = await typing(new FactsCache(fakeFacts(), 60_000, async () => 'missing'));
  const b = await check(typed(' --'));
  assert.equal(b.config.runs[0], first, 'the run before the edit comes back as the same object');
  assert.ok(checkCache.reused > 0, 'its findings are reused');
  assert.ok(b.findings.some((f) => f.code === 'RWKV011'));
  // the same snapshot but for the paths, which exist now (a checkpoint and dataset written meanwhile)
  const c = await check(typed(' --c'), (s) => ({ ...s, runs: s.runs.map((r) => ({ ...r, paths: new Map([...r.paths].map(([k]) => [k, 'file' as const])) })) }));
  assert.equal(c.config.runs[0], first);
  assert.ok(!c.findings.some((f) => f.code === 'RWKV011'), 'no RWKV011 kept from before');
  assert.equal(JSON.stringify(c.findings), JSON.stringify(c.fresh));
});

test('a check that reads the whole config is not reused (RWKV024 names a variable set after the run)', async () => {
  const { check, typed, first } = await typing(new FactsCache(fakeFacts(), 60_000, async () => 'missing'));
  await check(typed(' --'));
  const b = await check(typed(' --', 'N_LAYER=24\n'));
  assert.equal(b.config.runs[0], first);
  assert.ok(b.findings.some((f) => f.code === 'RWKV024' && f.message.includes('did you mean $N_LAYER?') && f.span.start < CALL.length), JSON.stringify(b.findings.filter((f) => f.code === 'RWKV024')));
  assert.equal(JSON.stringify(b.findings), JSON.stringify(b.fresh));
});
