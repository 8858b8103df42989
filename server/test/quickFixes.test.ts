// Every quick fix offered on the fixtures, applied to the text, makes its own diagnostic go away
// (and does not break the file): the fixes are checked by the same pipeline that found the problem.
import assert from 'node:assert/strict';
import { readdirSync, statSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import type { Edit } from '../src/checks/types';
import { FIXTURES } from './fakeWorld';
import { findingsFor } from './fixtureHarness';

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : /\.(sh|ya?ml|json)$/.test(n) && n !== 'world.json' ? [p] : [];
  });
}

function apply(text: string, edits: Edit[]): string {
  let out = text;
  for (const e of [...edits].sort((a, b) => b.span.start - a.span.start)) out = out.slice(0, e.span.start) + e.newText + out.slice(e.span.end);
  return out;
}

test('applying each quick fix removes the diagnostic it was offered for', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'rwkv-fix-'));
  let applied = 0;
  const seen = new Set<string>();
  try {
    for (const file of walk(FIXTURES)) {
      const { text, findings } = await findingsFor(file);
      for (const f of findings) {
        for (const fix of f.fixes ?? []) {
          const fixedPath = join(tmp, relative(FIXTURES, file).replace(/[/\\]/g, '_'));
          writeFileSync(fixedPath, apply(text, fix.edits));
          const after = await findingsFor(fixedPath, file.includes('no-addon') ? { facts: 'none' } : {});
          const same = after.findings.filter((g) => g.code === f.code && g.message === f.message);
          assert.deepEqual(same.map((g) => g.message), [], `${relative(FIXTURES, file)}: "${fix.title}" should fix ${f.code}`);
          assert.ok(!after.findings.some((g) => g.code === 'RWKV000'), `${fix.title} keeps the file parseable`);
          applied++;
          seen.add(f.code);
        }
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  assert.ok(applied >= 20, `applied ${applied} fixes`);
  for (const code of ['RWKV001', 'RWKV002', 'RWKV004', 'RWKV006', 'RWKV007', 'RWKV008', 'RWKV009', 'RWKV010', 'RWKV012', 'RWKV013', 'RWKV014', 'RWKV016', 'RWKV019', 'RWKV020']) {
    assert.ok(seen.has(code), `a fix for ${code} was exercised`);
  }
});
