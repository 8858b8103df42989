// A bounded run of the language server's fuzz (fuzz/docFuzzer.ts): 20,000 generated and mutated
// shell, YAML, JSON and binary documents through the document pipeline with no exception and a
// bounded time per document. `npm run bench -- faults` runs a million and prints the figures.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { documentFor, fuzz } from './fuzz/docFuzzer';

test('20,000 fuzzed documents: no exception, every document within its time bound', { timeout: 180_000 }, async () => {
  const f = await fuzz(20_000, 20260);
  console.log(`server fuzz: ${f.docs} documents in ${f.seconds.toFixed(1)} s (${Math.round(f.docsPerSecond)}/s), ` +
    `worst ${f.worstMs.toFixed(1)} ms (document ${f.worstDoc}; ${f.worstReplayMs?.toFixed(1)} ms run again alone), ${f.exceptions} exceptions, ${f.findings} findings, ${f.runs} runs resolved`);
  assert.deepEqual(f.failures, []);
  assert.equal(f.exceptions, 0);
  // a keystroke's analysis on a shared 2-core machine: generous, but a super-linear path fails it
  assert.ok(f.worstMs < 1000, `worst ${f.worstMs} ms on document ${f.worstDoc}`);
  assert.ok(f.findings > 10_000 && f.runs > 1000 && f.hovers > 1000, 'the documents reach the checks, hover and resolveRuns');
});

test('the fuzz documents are a pure function of (seed, index), so a failure replays', () => {
  assert.deepEqual(documentFor(5, 123), documentFor(5, 123));
  assert.notDeepEqual(documentFor(5, 123), documentFor(5, 124));
  const kinds = new Set(Array.from({ length: 200 }, (_, n) => documentFor(5, n).languageId));
  assert.deepEqual([...kinds].sort(), ['json', 'shellscript', 'yaml']);
});
