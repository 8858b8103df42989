// Data-driven tests: every fixture under fixtures/ (tutorial scripts and their broken variants,
// and one folder per check) is checked against the fake world and compared with the `.expected`
// file beside it. UPDATE_EXPECT=1 writes missing/changed expectations (review them in the diff).
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { CHECKS } from '../src/checks';
import { findingsFor, render } from './fixtureHarness';
import { FIXTURES } from './fakeWorld';

const INPUT = /\.(sh|ya?ml|json)$/;
function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : INPUT.test(n) && n !== 'world.json' ? [p] : [];
  });
}

for (const file of walk(FIXTURES).sort()) {
  test(`fixture ${relative(FIXTURES, file)}`, async () => {
    const { text, findings } = await findingsFor(file);
    const got = render(text, findings);
    const expectedPath = `${file}.expected`;
    if (process.env.UPDATE_EXPECT === '1' && (!existsSync(expectedPath) || readFileSync(expectedPath, 'utf8') !== got)) writeFileSync(expectedPath, got);
    assert.ok(existsSync(expectedPath), `missing ${expectedPath} (run with UPDATE_EXPECT=1 and review it)`);
    assert.equal(got, readFileSync(expectedPath, 'utf8'));
  });
}

test('correct tutorial scripts give no errors or warnings', async () => {
  const dir = join(FIXTURES, 'tutorials');
  for (const n of readdirSync(dir).filter((x) => INPUT.test(x))) {
    const { findings } = await findingsFor(join(dir, n));
    const bad = findings.filter((f) => f.severity === 'error' || f.severity === 'warning');
    assert.deepEqual(bad.map((f) => `${n}: ${f.code} ${f.message}`), []);
  }
});

test('every check has a fixture folder in which it fires', async () => {
  for (const c of CHECKS) {
    const dir = join(FIXTURES, 'checks', c.code);
    assert.ok(existsSync(dir), `no fixtures for ${c.code}`);
    const fired = readdirSync(dir).filter((n) => n.endsWith('.expected')).some((n) => readFileSync(join(dir, n), 'utf8').includes(` ${c.code} `));
    assert.ok(fired, `${c.code} never fires in its fixtures`);
  }
});
