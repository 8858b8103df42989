// server/README.md's diagnostic reference is generated from the checks and must be current.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CHECKS } from '../src/checks';
import { withCheckDocs } from '../src/checks/docs';

test('server/README.md lists every check as the check files describe it', () => {
  const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
  assert.equal(readme, withCheckDocs(readme), 'run: npx tsx server/scripts/gen-docs.ts');
  for (const c of CHECKS) assert.ok(readme.includes(`| ${c.code} | ${c.name} |`), c.code);
});

test('codes are unique, ordered and stable in form', () => {
  const codes = CHECKS.map((c) => c.code);
  assert.deepEqual(codes, [...new Set(codes)].sort());
  for (const c of CHECKS) {
    assert.match(c.code, /^RWKV\d{3}$/);
    for (const k of ['what', 'why', 'example', 'fix'] as const) assert.ok(c.docs[k].length > 5, `${c.code} docs.${k}`);
  }
});
