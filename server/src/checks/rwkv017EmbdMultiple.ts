// RWKV017: n_embd not a multiple of the head size (64).
import { effective } from '../parse/resolve';
import { argNumber, findArg } from '../parse/trainConfig';
import type { Check } from './types';
import { onValue } from './util';

export const check: Check = {
  code: 'RWKV017',
  name: 'n-embd-multiple',
  docs: {
    what: 'n_embd (and dim_att) must be a multiple of the head size, 64 for RWKV-7.',
    why: 'The channels are split into heads of head_size; RWKV-LM asserts it and the WKV kernel needs it.',
    example: 'N_EMBD="1000"',
    fix: 'Round n_embd to a multiple of 64 (e.g. 768, 1024, 2048).',
  },
  checkRun({ run }) {
    const arg = findArg(run, 'n_embd');
    const n = argNumber(run, 'n_embd');
    const head = Number(effective(run, run.trainer === 'lm-v7' ? 'head_size' : 'head_size_a').value) || 64;
    if (!arg || n === undefined || n <= 0 || n % head === 0) return [];
    const lower = Math.floor(n / head) * head;
    return [onValue('RWKV017', 'error', arg, `n_embd ${n} is not a multiple of the head size ${head} (nearest: ${lower || head} or ${lower + head}).`)];
  },
};
