// RWKV020: my_exit_tokens against the dataset's token count.
import { ok } from '../facts/snapshot';
import { argNumber, findArg } from '../parse/trainConfig';
import type { Check } from './types';
import { onValue, replaceValue } from './util';

export const check: Check = {
  code: 'RWKV020',
  name: 'exit-tokens',
  docs: {
    what: 'my_exit_tokens should equal the binidx dataset\'s token count (what make_data.py prints).',
    why: 'Pretraining stops after my_exit_tokens tokens and the learning-rate schedule is laid out over them; another dataset\'s count ends training early or late.',
    example: '--my_exit_tokens 1498226207   # copied from the minipile demo',
    fix: 'Use the dataset\'s token count (quick fix).',
  },
  checkRun({ run, facts, runIndex }) {
    const arg = findArg(run, 'my_exit_tokens');
    const n = argNumber(run, 'my_exit_tokens');
    const ds = ok(facts.runs[runIndex]?.dataset);
    if (!arg || n === undefined || n === 0 || !ds) return [];
    const want = ds.myExitTokens ?? ds.tokens;
    if (n === want) return [];
    const edits = replaceValue(arg.value, String(want));
    return [onValue('RWKV020', 'warning', arg, `my_exit_tokens is ${n}, but the dataset has ${want} tokens.`,
      edits.length ? { fixes: [{ title: `Set my_exit_tokens to ${want}`, preferred: true, edits }] } : {})];
  },
};
