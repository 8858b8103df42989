// Parsing with a document's ShellParseCache (lexing and the walk resumed before the edit) must
// give exactly what parsing the whole text gives, after any sequence of edits: assignments,
// exports, unset, cd, env prefixes, set -e, other scripts' calls and several runs, edited above, inside and below each other.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ShellParseCache } from '../../src/parse/shellParseCache';
import { parseShellScript } from '../../src/parse/shellScript';
import type { TrainConfig } from '../../src/parse/trainConfig';

const SCRIPT = [
  'A=1; B="two words"',
  'export A C=3',
  'declare -x D=$B',
  'cd runs/$A',
  'python train.py --n_layer $A --proj_dir "$B" --ctx_len ${C:-512}',
  'unset B',
  'E=$A$A; A+=0',
  'export E',
  'CUDA_VISIBLE_DEVICES=0 torchrun train.py --n_embd $E --data_file $B \\',
  '  --peft_config \'{"r": 8}\'',
  'cd ..',
  'python3 train.py --n_layer $A --vocab_size $D',
  '',
].join('\n');

const plain = (c: TrainConfig): string => JSON.stringify(c, (_k, v: unknown) => (v && typeof v === 'object' && 'toArray' in v && typeof v.toArray === 'function' ? v.toArray() : v));

let seed = 7;
const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
const PIECES = ['"', "'", '\\', '\n', 'export A\n', 'unset A\n', 'A=9 ', '$A', '${A}', 'cd x\n', 'python train.py --n_layer $A\n', ';', ' ', 'x', '1',
  // set -e, blocks and a flag line after a call: the walk's exit state must resume exactly too
  'set -e\n', 'set +e\n', '{ ', '}\n', 'f() {\n', '\n  --n_embd 1\n', ' || true',
  // another script's call (scriptCalls are saved with the walk too)
  'python merge/merge.py --lora_alpha $Z\n'];

function edit(text: string): string {
  // edits cluster like typing: often near the previous one, sometimes anywhere
  const at = rnd(text.length + 1);
  switch (rnd(3)) {
    case 0: return text.slice(0, at) + PIECES[rnd(PIECES.length)] + text.slice(at);
    case 1: return text.slice(0, at) + text.slice(at + 1 + rnd(6));
    default: { const from = rnd(text.length); return text.slice(0, at) + text.slice(from, from + rnd(40)) + text.slice(at); }
  }
}

test('a cached parse equals a parse of the whole text after every edit', () => {
  const dir = join(__dirname, '../fixtures/tutorials');
  const sources = [SCRIPT, ...readdirSync(dir).filter((f) => f.endsWith('.sh')).map((f) => readFileSync(join(dir, f), 'utf8')),
    readFileSync(join(__dirname, '../bash/corpus/errexit.sh'), 'utf8'), readFileSync(join(__dirname, '../../../test/bench/fixtures/tutorial-four-runs.sh'), 'utf8')];
  let resumed = 0;
  let edits = 0;
  for (const source of sources) {
    const cache = new ShellParseCache();
    const resumable = cache.resumable.bind(cache);
    cache.resumable = (commands) => { const w = resumable(commands); if (w && w.index > 0) resumed++; return w; };
    let text = source;
    parseShellScript(text, cache);
    for (let k = 0; k < 200; k++) {
      text = rnd(12) === 0 ? source : edit(text);
      edits++;
      assert.equal(plain(parseShellScript(text, cache)), plain(parseShellScript(text)), `after edit ${k} of a ${source.length}-character script`);
    }
  }
  assert.ok(resumed > edits / 4, `the walk resumes after the unchanged commands (${resumed} of ${edits} edits)`);
});

test('an export after the saved point does not leak into the saved variables', () => {
  const cache = new ShellParseCache();
  const base = 'A=1\nB=2\npython train.py --n_layer $A\n';
  parseShellScript(base, cache);
  parseShellScript(base.replace('--n_layer $A', '--n_layer $A\nexport A'), cache);
  const again = parseShellScript(base.replace('--n_layer $A', '--n_layer $B'), cache);
  assert.equal(again.variables.find((v) => v.name === 'A')?.exported, false);
  assert.equal(plain(again), plain(parseShellScript(base.replace('--n_layer $A', '--n_layer $B'))));
});
