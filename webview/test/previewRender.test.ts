// The preview page's markup: data is escaped (a document's text cannot inject markup), each
// token's class says whether it trains, has no loss, or is padding / the next document's, the
// round trip is marked, and the histogram's labels name each bin's token range.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { binLabels, documentHtml, summaryHtml, tokenHtml } from '../src/preview/render';
import type { DatasetPreview } from '../src/preview/types';

test('tokens: escaped, classed, whitespace visible', () => {
  assert.equal(tokenHtml([60, '<b>', 1, 1], 0), '<span class="tok tok-a trains" title="id 60 · trains">&lt;b&gt;</span>');
  assert.match(tokenHtml([11, '\n', 0, 1], 1), /class="tok tok-b ignored".*↵<br>/);
  assert.match(tokenHtml([0, '', 0, 0], 2), /class="tok tok-a foreign".*∅/);
  assert.match(tokenHtml([33, 'a b', 1, 1], 0), />a&nbsp;b</);
});

test('a document: its header and round trip', () => {
  const bad = documentHtml({ index: 7, length: 900, tokens: [[1, 'x', 1, 1]], shownTokens: 1, trainedTokens: 1, roundTrip: false });
  assert.match(bad, /Document #7 · 900 tokens \(first 1 shown\)/);
  assert.match(bad, /class="bad"[^>]*>round trip ✗/);
  assert.match(documentHtml({ index: 0, length: 1, tokens: [], shownTokens: 1, roundTrip: true }), /round trip ✓/);
  // trailing padding becomes one note; the next document's tokens (id ≠ 0) stay
  const padded = documentHtml({ index: 0, length: 2, tokens: [[5, 'a', 0, 1], [6, 'b', 1, 1], [9, 'c', 0, 0], [0, '', 0, 0], [0, '', 0, 0]], shownTokens: 5 });
  assert.match(padded, /title="id 9 · padding \/ next document">c<\/span><span class="tok foreign padding"[^>]*>\+2 padding</);
});

test('summary and histogram labels', () => {
  const p: DatasetPreview = {
    path: '/d/<x>', format: 'binidx', dataType: 'binidx', ctxLen: 4096, lossMask: 'none', documents: 1234567, tokens: 9e9,
    longerThanCtx: 3, magicPrime: 2197283, myExitTokens: 9e9,
    histogram: { binWidth: 100, counts: [1, 2, 3], min: 2, max: 299, mean: 150.4, median: 151, documents: 1234567, ofDocuments: 1234567 },
    samples: [],
  };
  const html = summaryHtml(p, 12);
  assert.match(html, /\/d\/&lt;x&gt;/);
  assert.match(html, /1,234,567/);
  assert.match(html, /--magic_prime 2,197,283 --my_exit_tokens 9,000,000,000 for ctx_len 4,096/);
  assert.deepEqual(binLabels(p.histogram), ['0–99', '100–199', '200–299']);
});
