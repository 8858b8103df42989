// Re-lexing from the edit on must give exactly what lexing the whole text gives, for any edit:
// random edits (inserting quotes, backslashes, here-documents, $( and ${, deleting newlines) of
// the tutorial scripts and of a script using every construct that spans lines.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { IncrementalLexer } from '../../src/parse/incrementalLexer';
import { lexShell, type LexResult } from '../../src/parse/shellLexer';

const TRICKY = [
  '#!/bin/bash',
  'A=1; B="two',
  'lines" C=\'single',
  'quoted\'',
  'cat <<EOF > out.txt; echo after',
  'body $A line',
  'EOF',
  'cat <<-END',
  '\tindented',
  '\tEND',
  'x=$(echo (nested)',
  ' more) y=${A:-fall',
  'back}',
  'python train.py --a $A \\',
  '  --b "$B" --c ${C} 2>&1 | tee log # comment',
  'echo > ',
  'next line',
  "D=$'tab\\tx' E=`date`",
  'torchrun train.py --peft_config \'{"r": 8}\' &',
  '',
].join('\n');

const plain = (r: LexResult): string => JSON.stringify(r, (_k, v: unknown) => (v && typeof v === 'object' && 'toArray' in v && typeof v.toArray === 'function' ? v.toArray() : v));

let seed = 42;
const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
const PIECES = ['"', "'", '\\', '\n', '<<EOF\n', 'EOF\n', '$(', ')', '${', '}', '#', ' ', ';', 'x', '--n_layer 12 ', '`'];

function edit(text: string): string {
  const at = rnd(text.length + 1);
  switch (rnd(3)) {
    case 0: return text.slice(0, at) + PIECES[rnd(PIECES.length)] + text.slice(at);
    case 1: return text.slice(0, at) + text.slice(at + 1 + rnd(8));
    default: { const from = rnd(text.length); return text.slice(0, at) + text.slice(from, from + rnd(40)) + text.slice(at); }
  }
}

test('incremental lexing equals lexing the whole text after every edit', () => {
  const dir = join(__dirname, '../fixtures/tutorials');
  const sources = [TRICKY, ...readdirSync(dir).filter((f) => f.endsWith('.sh')).map((f) => readFileSync(join(dir, f), 'utf8'))];
  let reused = 0;
  let edits = 0;
  for (const source of sources) {
    const lexer = new IncrementalLexer();
    let text = source;
    lexer.lex(text);
    for (let k = 0; k < 150; k++) {
      // mostly small edits to the current text, sometimes back to the original
      text = rnd(10) === 0 ? source : edit(text);
      const before = lexShell(text);
      const got = lexer.lex(text);
      edits++;
      if (got.commands.length && before.commands.length && got.commands[0] !== before.commands[0]) reused++;
      assert.equal(plain(got), plain(before), `after edit ${k} of a ${source.length}-character script`);
    }
  }
  assert.ok(reused > edits / 2, `commands before the edit are reused (${reused} of ${edits} edits)`);
});
