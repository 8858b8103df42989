// RWKV008: vocab_size against the checkpoint's embedding.
import { ok } from '../facts/snapshot';
import { argNumber, findArg } from '../parse/trainConfig';
import type { Check } from './types';
import { onValue, replaceValue } from './util';

export const check: Check = {
  code: 'RWKV008',
  name: 'vocab-size',
  docs: {
    what: 'Compares --vocab_size with the checkpoint\'s emb.weight rows.',
    why: 'A different vocabulary size fails when loading emb.weight and head.weight.',
    example: '--vocab_size 50277   # World models have 65536',
    fix: 'Use the checkpoint\'s vocabulary size (quick fix).',
  },
  checkRun({ run, facts, runIndex }) {
    const ck = ok(facts.runs[runIndex]?.checkpoint);
    const arg = findArg(run, 'vocab_size');
    const got = argNumber(run, 'vocab_size');
    if (!ck || ck.isAdapter || !arg || got === undefined || !ck.vocabSize || got === ck.vocabSize) return [];
    const edits = replaceValue(arg.value, String(ck.vocabSize));
    return [onValue('RWKV008', 'error', arg, `--vocab_size is ${got}, but the checkpoint's embedding has ${ck.vocabSize} rows.`,
      edits.length ? { fixes: [{ title: `Set vocab_size to ${ck.vocabSize}`, preferred: true, edits }] } : {})];
  },
};
