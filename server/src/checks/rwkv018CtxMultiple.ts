// RWKV018: pretraining ctx_len not a multiple of 512.
import { argNumber, findArg } from '../parse/trainConfig';
import type { Check } from './types';
import { onValue } from './util';

export const check: Check = {
  code: 'RWKV018',
  name: 'ctx-len-multiple',
  docs: {
    what: 'For RWKV-LM pretraining, ctx_len must be a multiple of 512 (and equal to the ctx_len given to make_data.py).',
    why: 'The pretraining tutorial requires it; the chunked kernels and the magic_prime sampler assume it.',
    example: 'CTX_LEN="1000"',
    fix: 'Use 512, 1024, 2048, 4096, ...',
  },
  checkRun({ run }) {
    if (run.trainer !== 'lm-v7') return [];
    const arg = findArg(run, 'ctx_len');
    const n = argNumber(run, 'ctx_len');
    if (!arg || n === undefined || n <= 0 || n % 512 === 0) return [];
    return [onValue('RWKV018', 'error', arg, `Pretraining ctx_len ${n} is not a multiple of 512.`)];
  },
};
