// Without a loadable addon the server gets a provider whose every call rejects with one message.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadFacts, unavailableFacts, UNAVAILABLE_MESSAGE } from './loadFacts';

test('the fallback provider rejects every call with the user-facing message', async () => {
  const f = unavailableFacts();
  for (const call of [() => f.inspectCheckpoint('x.pth'), () => f.inspectDataset('x'), () => f.listGpus(), () => f.planMemory({})]) {
    await assert.rejects(call(), (e: Error) => e.message === UNAVAILABLE_MESSAGE);
  }
});

test('loadFacts never throws: it returns the addon provider or the fallback, and says which', async () => {
  const prev = process.env.RWKV_STUDIO_NO_ADDON;
  process.env.RWKV_STUDIO_NO_ADDON = '1';
  try {
    const { facts, source } = loadFacts();
    assert.equal(typeof facts.inspectCheckpoint, 'function');
    if (source !== 'addon') await assert.rejects(facts.listGpus(), (e: Error) => e.message === UNAVAILABLE_MESSAGE);
    assert.ok(source.length > 0);
  } finally {
    if (prev === undefined) delete process.env.RWKV_STUDIO_NO_ADDON; else process.env.RWKV_STUDIO_NO_ADDON = prev;
  }
});
