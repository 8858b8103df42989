// RWKV009: my_testing against the checkpoint's architecture version.
import { ok } from '../facts/snapshot';
import { argText, findArg } from '../parse/trainConfig';
import type { Check } from './types';
import { onValue, replaceValue } from './util';
import { lookalikes } from '../parse/lookalikes';

export const check: Check = {
  code: 'RWKV009',
  name: 'model-version',
  docs: {
    what: 'Compares --my_testing (x070/x060/x052) with the version the checkpoint\'s tensors show (RWKV-7 has att.w0/att.a0, RWKV-6 att.time_maa_*).',
    why: 'train.py builds the model class from my_testing; loading RWKV-7 weights into an RWKV-6 model fails on missing keys.',
    example: '--my_testing "x060"   # with an rwkv7-g1 checkpoint',
    fix: 'Set my_testing to the checkpoint\'s version (quick fix).',
  },
  checkRun({ run, facts, runIndex }) {
    const ck = ok(facts.runs[runIndex]?.checkpoint);
    const arg = findArg(run, 'my_testing');
    const got = argText(run, 'my_testing');
    if (!ck || ck.version === 'unknown' || !arg || !got || got === ck.version) return [];
    // `“x070”`: RWKV002 names the typographic quotes; the version itself is right
    if (arg.value && lookalikes(arg.value).length) return [];
    const edits = replaceValue(arg.value, ck.version);
    return [onValue('RWKV009', 'error', arg, `--my_testing is ${got}, but the checkpoint is an ${ck.version} (${ck.version === 'x070' ? 'RWKV-7' : ck.version === 'x060' ? 'RWKV-6' : 'RWKV-5'}) model.`,
      edits.length ? { fixes: [{ title: `Set my_testing to ${ck.version}`, preferred: true, edits }] } : {})];
  },
};
