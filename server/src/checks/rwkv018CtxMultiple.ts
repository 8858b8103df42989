// RWKV018: a pretraining ctx_len that RWKV-LM's WKV7 kernel cannot split into chunks.
// RWKV-LM (RWKV-v7/train_temp) has no 512 rule: its CUDA kernel is built with CHUNK_LEN 16 and
// asserts T % CHUNK_LEN == 0 (src/model.py, cuda/rwkv7_clampw.cu), T being ctx_len. The number
// is flags.json's ctx_len multipleOf, which the engine's GPU check (train/gpu_support.cpp) reads too.
import { flagSpec } from '../flags/flagTable';
import { effective } from '../parse/resolve';
import { argNumber, findArg } from '../parse/trainConfig';
import type { Check } from './types';
import { onValue } from './util';

/** The WKV7 kernel's chunk length (RWKV-LM's CHUNK_LEN), from the flag table. */
export const CTX_MULTIPLE = flagSpec('ctx_len')?.multipleOf ?? 16;

export const check: Check = {
  code: 'RWKV018',
  name: 'ctx-len-multiple',
  docs: {
    what: `For RWKV-LM (RWKV-7) pretraining, ctx_len must be a multiple of ${CTX_MULTIPLE} (and equal to the ctx_len given to make_data.py).`,
    why: `RWKV-LM's WKV7 CUDA kernel works in chunks of CHUNK_LEN = ${CTX_MULTIPLE} steps and asserts ctx_len % ${CTX_MULTIPLE} == 0; train.py stops at its first step otherwise. The engine's GPU backend has the same limit; its CPU backend (--accelerator cpu) takes any ctx_len, so there it is a warning. 512 is only the tutorial's choice.`,
    example: 'CTX_LEN="1000"',
    fix: `Use a multiple of ${CTX_MULTIPLE} (512, 1024, 4096, ...), and make the data with the same ctx_len.`,
  },
  checkRun({ run }) {
    if (run.trainer !== 'lm-v7') return [];
    const arg = findArg(run, 'ctx_len');
    const n = argNumber(run, 'ctx_len');
    if (!arg || n === undefined || n <= 0 || n % CTX_MULTIPLE === 0) return [];
    const cpu = String(effective(run, 'accelerator').value).toLowerCase() === 'cpu';
    return [onValue('RWKV018', cpu ? 'warning' : 'error', arg,
      `Pretraining ctx_len ${n} is not a multiple of ${CTX_MULTIPLE}: RWKV-LM's WKV7 kernel asserts ctx_len % ${CTX_MULTIPLE} == 0.` +
      (cpu ? " Run Training's CPU backend trains it; RWKV-LM's train.py would not." : ''))];
  },
};
