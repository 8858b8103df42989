// Preview Dataset's request from how it was invoked: a .bin/.idx opens its binidx prefix, a
// .jsonl its file; the server lens's argument is taken field by field, junk dropped.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { requestForFile, requestFromLens } from '../src/preview/previewRequest';

test('files', () => {
  assert.deepEqual(requestForFile('/d/data_text_document.bin'), { path: '/d/data_text_document', options: { dataType: 'binidx' } });
  assert.deepEqual(requestForFile('/d/x.IDX'), { path: '/d/x', options: { dataType: 'binidx' } });
  assert.deepEqual(requestForFile('/d/a.jsonl'), { path: '/d/a.jsonl', options: { dataType: 'jsonl' } });
  assert.equal(requestForFile('/d/a.txt'), undefined);
});

test('the server lens argument', () => {
  assert.deepEqual(requestFromLens({ path: '/d/x', options: { dataType: 'sft', ctxLen: 512, lossMask: 'qa', sftFields: ['q', 'r'], magicPrime: false, evil: 1 } }),
    { path: '/d/x', options: { dataType: 'sft', ctxLen: 512, lossMask: 'qa', sftFields: ['q', 'r'] } });
  assert.deepEqual(requestFromLens({ path: '/d/x', options: { dataType: 'exe', ctxLen: -1, magicPrime: true } }), { path: '/d/x', options: { magicPrime: true } });
  assert.equal(requestFromLens({ options: {} }), undefined);
  assert.equal(requestFromLens(undefined), undefined);
});
