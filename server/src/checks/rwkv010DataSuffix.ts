// RWKV010: a binidx data_file given with its .bin/.idx suffix.
import { effective } from '../parse/resolve';
import { findArg } from '../parse/trainConfig';
import type { Check } from './types';
import { onValue, replaceValue } from './util';

export const check: Check = {
  code: 'RWKV010',
  name: 'data-file-suffix',
  docs: {
    what: 'A binidx --data_file that ends in .bin or .idx.',
    why: 'The loader appends .bin and .idx itself, so data/demo.bin becomes data/demo.bin.bin and is not found.',
    example: '--data_file data/demo.bin --data_type binidx',
    fix: 'Give the prefix without the suffix (quick fix: strip it).',
  },
  checkRun({ run }) {
    const arg = findArg(run, 'data_file');
    const v = arg?.value;
    if (!arg || !v || v.dynamic) return [];
    const m = /\.(bin|idx)$/.exec(v.text);
    if (!m || String(effective(run, 'data_type').value) !== 'binidx') return [];
    const stripped = v.text.slice(0, -m[0].length);
    const edits = replaceValue(v, stripped);
    return [onValue('RWKV010', 'error', arg, `--data_file is a binidx prefix: write "${stripped}" without ".${m[1]}" (train.py adds .bin and .idx itself).`,
      edits.length ? { fixes: [{ title: `Remove the .${m[1]} suffix`, preferred: true, edits }] } : {})];
  },
};
