// The time estimate's model (server/src/estimate): the shipped throughput.json is what
// fit-throughput.ts makes of the measured rows (so it cannot drift from them), it is within 15%
// of every measured config it was fitted from, and leave-one-out (a model fitted without the
// row) predicts every row that lies inside the others' range within 15% too.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildModel, measurementsFrom, SOURCE } from '../scripts/fit-throughput';
import { errors, fit, interior, leaveOneOut, nnls, tokensPerSecond } from '../src/estimate/throughputFit';
import shipped from '../src/estimate/throughput.json';

const root = join(__dirname, '..', '..');
const sourceText = readFileSync(join(root, SOURCE), 'utf8');
const rows = measurementsFrom((JSON.parse(sourceText) as { rows: never[] }).rows);

test('nnls finds the non-negative least-squares solution', () => {
  // y = 2 a + 0 b exactly, with b's column pulling the unconstrained fit negative
  const A = [[1, 1], [2, 1], [3, 0], [4, 2]];
  const b = A.map(([a]) => 2 * a);
  const x = nnls(A, b);
  assert.ok(Math.abs(x[0] - 2) < 1e-9 && Math.abs(x[1]) < 1e-9, JSON.stringify(x));
  const y = [1, 1, -5, 1];  // the best unconstrained b would be negative
  assert.ok(nnls(A, y).every((v) => v >= 0));
});

test('the shipped model is the fit of the measured rows', () => {
  assert.ok(rows.length >= 15, `${rows.length} measured rows`);
  const fresh = buildModel(sourceText) as typeof shipped;
  assert.equal(shipped.provenance.sourceSha256, fresh.provenance.sourceSha256, 'throughput.json is stale: npx tsx server/scripts/fit-throughput.ts');
  assert.deepEqual(shipped.classes.H100.coefficients, fresh.classes.H100.coefficients);
});

test('within 15% of every measured config, in the fit and left out of it', () => {
  const c = shipped.classes.H100.coefficients;
  const inFit = errors(c, rows);
  const loo = leaveOneOut(rows);
  const report = rows.map((r, i) => `${r.name} ${(100 * inFit[i]).toFixed(1)}% (left out ${(100 * loo[i]).toFixed(1)}%${interior(rows, i) ? '' : ', outside the others'})`);
  console.log(report.join('\n'));
  rows.forEach((r, i) => {
    assert.ok(Math.abs(inFit[i]) <= 0.15, `${r.name}: model ${tokensPerSecond(c, r.config).toFixed(0)} vs measured ${r.tokensPerS.toFixed(0)} tokens/s`);
    if (interior(rows, i)) assert.ok(Math.abs(loo[i]) <= 0.15, `${r.name} left out: ${(100 * loo[i]).toFixed(1)}%`);
  });
  // most rows are interior: the leave-one-out check is not vacuous
  assert.ok(rows.filter((_, i) => interior(rows, i)).length >= rows.length * 0.6);
});

test('the fit fails a model that cannot explain the rows', () => {
  // the same rows with one tokens/s doubled: that row's error must show
  const bent = rows.map((r, i) => (i === 0 ? { ...r, tokensPerS: r.tokensPerS * 2 } : r));
  const e = errors(fit(bent), bent);
  assert.ok(Math.max(...e.map(Math.abs)) > 0.15);
});
