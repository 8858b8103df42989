// Differential test against Python's argparse: every case of cases.ts, written into a script
// (`python train.py '<word>' ...`), must read in the server as argparse reads it, per trainer:
// accepted with the same flags and words (abbreviations expanded, last repeat wins, lists), or
// refused with an error (for an ambiguous prefix, argparse's own message with the candidates).
// The outcomes are python3's (harness.py, committed in outcomes.json); where python3 is on this
// machine the test first checks that they are still what it says.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { runChecks } from '../../src/checks';
import type { FactsSnapshot } from '../../src/facts/snapshot';
import { flagSpec } from '../../src/flags/flagTable';
import { parseShellScript } from '../../src/parse/shellScript';
import type { Trainer } from '../../src/parse/trainConfig';
import { generateCases } from './cases';

type Outcome = { ok: true; given: Record<string, string | string[] | boolean> } | { ok: false; error: string };
interface Row { trainer: Trainer; argv: string[]; outcome: Outcome }
const fixture = JSON.parse(readFileSync(join(__dirname, 'outcomes.json'), 'utf8')) as { python: string; cases: Row[] };

const quote = (w: string): string => `'${w.replace(/'/g, `'\\''`)}'`;
const ARGPARSE_LEVEL = new Set(['RWKV001', 'RWKV002', 'RWKV003', 'RWKV004']);

test('the committed outcomes are python3 argparse\'s for the generated cases', (t) => {
  const cases = generateCases();
  assert.deepEqual(fixture.cases.map((r) => ({ trainer: r.trainer, argv: r.argv })), cases, 'cases.ts changed: run npx tsx server/test/argparse/regen.ts');
  const py = spawnSync('python3', [join(__dirname, 'harness.py')], { input: JSON.stringify({ cases }), encoding: 'utf8', maxBuffer: 64 << 20 });
  if (py.error || py.status !== 0) { t.skip('python3 not available here'); return; }
  const live = JSON.parse(py.stdout) as { python: string; outcomes: Outcome[] };
  if (live.python.split('.').slice(0, 2).join('.') !== fixture.python.split('.').slice(0, 2).join('.')) { t.skip(`python ${live.python}, outcomes from ${fixture.python}`); return; }
  assert.deepEqual(live.outcomes, fixture.cases.map((r) => r.outcome), 'the flag table changed: run npx tsx server/test/argparse/regen.ts');
});

test('the server reads every case as argparse does', () => {
  const disagreements: string[] = [];
  let words = 0;
  for (const row of fixture.cases) {
    const text = `python train.py ${row.argv.map(quote).join(' ')}\n`;
    const config = parseShellScript(text);
    const run = config.runs[0]!;
    const where = `${row.trainer}: ${row.argv.join(' ')}`;
    words += row.argv.length;
    if (run.trainer !== row.trainer) { disagreements.push(`${where}: detected as ${run.trainer}`); continue; }
    const errors = runChecks(config, {} as FactsSnapshot, ARGPARSE_LEVEL)
      .filter((f) => f.severity === 'error' && (f.code !== 'RWKV002' || f.message.includes('argparse:')));
    const o = row.outcome;
    if (o.ok) {
      if (errors.length) { disagreements.push(`${where}: argparse accepts it, the server says ${errors.map((e) => e.message).join(' / ')}`); continue; }
      const given: Record<string, string | string[] | boolean> = {};
      for (const a of run.args) {
        const spec = flagSpec(a.name);
        given[a.name] = spec?.type === 'switch' ? true : spec?.nargs ? (a.values ?? []).map((v) => v.text) : a.value?.text ?? '';
      }
      try { assert.deepEqual(given, o.given); } catch { disagreements.push(`${where}: argparse gives ${JSON.stringify(o.given)}, the server ${JSON.stringify(given)}`); }
    } else if (o.error.startsWith('exit 0')) {
      if (!run.args.some((a) => a.name === 'help')) disagreements.push(`${where}: --help not seen`);
    } else {
      if (!errors.length) { disagreements.push(`${where}: argparse refuses it (${o.error}), the server reports no error`); continue; }
      if (o.error.startsWith('ambiguous option')) {
        const candidates = o.error.replace(/^.* could match /, '');
        if (!errors.some((e) => e.message.includes(candidates))) disagreements.push(`${where}: argparse says "${o.error}", the server ${errors.map((e) => e.message).join(' / ')}`);
      }
    }
  }
  assert.deepEqual(disagreements, [], `${disagreements.length} of ${fixture.cases.length} cases disagree`);
  assert.ok(fixture.cases.length > 1000 && words > 3000, `${fixture.cases.length} cases, ${words} words`);
});
