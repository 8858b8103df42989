// RWKV019: magic_prime must be a prime with p % 3 == 2 and match the dataset and ctx_len.
import { ok } from '../facts/snapshot';
import { magicPrimeFor, isPrime } from '../model/magicPrime';
import { effective } from '../parse/resolve';
import { argNumber, findArg } from '../parse/trainConfig';
import type { Check, Finding } from './types';
import { onValue, replaceValue } from './util';

export const check: Check = {
  code: 'RWKV019',
  name: 'magic-prime',
  docs: {
    what: 'magic_prime must be prime with p % 3 == 2, and (when the binidx dataset is readable) the largest such p ≤ tokens / ctx_len − 1, as make_data.py computes it; for RWKV-LM an error when outside 0.9–1.0 of tokens // ctx_len (its dataset.py asserts that), else a warning.',
    why: 'The pretraining sampler uses it to visit each ctx_len sample once per pass; a wrong value repeats or skips data, and one from another ctx_len reads past the end.',
    example: '--magic_prime 2926183 --ctx_len 512',
    fix: 'Compute it from the dataset (quick fix).',
  },
  checkRun({ run, facts, runIndex }) {
    const arg = findArg(run, 'magic_prime');
    const p = argNumber(run, 'magic_prime');
    if (!arg || p === undefined || p === 0) return [];
    const ds = ok(facts.runs[runIndex]?.dataset);
    const ctx = Number(effective(run, 'ctx_len').value);
    const expected = ds ? (ds.magicPrime ?? magicPrimeFor(ds.tokens, ctx)) : undefined;
    const fix = (want: number): Partial<Finding> => {
      const edits = replaceValue(arg.value, String(want));
      return edits.length ? { fixes: [{ title: `Set magic_prime to ${want} (from the dataset)`, preferred: true, edits }] } : {};
    };
    if (ds && expected === 0) return [onValue('RWKV019', 'error', arg, `The dataset has ${ds.tokens} tokens, fewer than 3 × ctx_len ${ctx}: make_data.py finds no magic_prime.`)];
    if (!isPrime(p) || p % 3 !== 2) {
      return [onValue('RWKV019', 'error', arg, `magic_prime ${p} ${isPrime(p) ? `is prime but ${p} % 3 = ${p % 3}, not 2` : 'is not prime'}.`, expected ? fix(expected) : {})];
    }
    if (expected !== undefined && expected !== p) {
      // RWKV-LM's dataset.py asserts 0.9 < magic_prime / (tokens // ctx_len) <= 1: outside that it
      // stops; inside, it trains, but the sampler's pass no longer matches make_data.py's.
      const slots = Math.floor(ds!.tokens / ctx);
      const accepted = run.trainer === 'lm-v7' && slots > 0 && p / slots > 0.9 && p <= slots;
      const stops = run.trainer === 'lm-v7' && !accepted ? ` RWKV-LM's dataset.py stops on it: it asserts 0.9 < magic_prime / (tokens // ctx_len = ${slots}) ≤ 1.` : '';
      return [onValue('RWKV019', accepted ? 'warning' : 'error', arg, `magic_prime should be ${expected} for ${ds!.tokens} tokens at ctx_len ${ctx} (largest prime p ≡ 2 mod 3 with p ≤ ${slots - 1}); got ${p}.${stops}`, fix(expected))];
    }
    return [];
  },
};
