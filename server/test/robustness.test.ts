// The whole pipeline on mangled input: every fixture cut at random places and with random bytes
// spliced in goes through parse, facts, checks, hover and completion without throwing.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { runChecks } from '../src/checks';
import { gatherFacts } from '../src/facts/gather';
import { completeAt } from '../src/lsp/completion';
import { hoverAt } from '../src/lsp/hover';
import { kindOf, parseDocument } from '../src/parse/parseDocument';
import { FIXTURES, fakeFacts, fakeFiles, world } from './fakeWorld';

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : /\.(sh|ya?ml|json)$/.test(n) && n !== 'world.json' ? [p] : [];
  });
}

test('mangled fixtures never make the pipeline throw', async () => {
  let seed = 7;
  const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  const noise = ['"', "'", '\\', '{', '}', '$', '$(', '${', '\n', ' --', '=', '\u0000', ':', '- ', '[', '#', '`', '\\\n'];
  const files = walk(FIXTURES);
  let cases = 0;
  for (const file of files) {
    const original = readFileSync(file, 'utf8');
    for (let k = 0; k < 12; k++) {
      let text = original;
      for (let m = 0; m < 1 + rnd(4); m++) {
        const at = rnd(text.length + 1);
        text = rnd(3) === 0 ? text.slice(0, at) : text.slice(0, at) + noise[rnd(noise.length)] + text.slice(at + rnd(3));
      }
      const kind = kindOf('', file);
      const config = parseDocument(text, kind, file);
      const snapshot = await gatherFacts(config, { cwd: world.cwd, facts: fakeFacts(), files: fakeFiles() });
      const findings = runChecks(config, snapshot);
      for (const f of findings) {
        assert.ok(f.span.start >= 0 && f.span.end <= text.length + 1 && f.span.start <= f.span.end, `${file}: span in range for ${f.code}`);
        assert.ok(!/Internal error/.test(f.message), `${file}: ${f.message}`);
      }
      const doc = TextDocument.create(`file://${file}`, kind === 'shell' ? 'shellscript' : kind, 1, text);
      const analysis = { uri: doc.uri, version: 1, text, config, snapshot, findings, cwd: world.cwd };
      for (let h = 0; h < 5; h++) {
        const offset = rnd(text.length + 1);
        hoverAt(analysis, offset, h % 2 ? 'zh' : 'en');
        completeAt(doc, analysis, offset, 'en');
      }
      cases++;
    }
  }
  assert.ok(cases > 400, `${cases} mangled documents`);
});
