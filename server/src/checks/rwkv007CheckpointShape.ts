// RWKV007: n_layer/n_embd against the checkpoint's real tensor shapes (facts).
import { ok } from '../facts/snapshot';
import { argNumber, findArg } from '../parse/trainConfig';
import type { Check, Edit, Finding } from './types';
import { onValue, replaceValue } from './util';

export const check: Check = {
  code: 'RWKV007',
  name: 'checkpoint-shape',
  docs: {
    what: 'Compares --n_layer/--n_embd with the shapes in the load_model checkpoint (blocks.N.*, emb.weight).',
    why: 'The model is built from the flags, then the weights are loaded into it: a mismatch fails with "size mismatch" or leaves layers untrained.',
    example: 'n_layer=12   # but the checkpoint has 24 blocks',
    fix: 'Take n_layer and n_embd from the checkpoint (quick fix).',
  },
  checkRun({ run, facts, runIndex }) {
    const ck = ok(facts.runs[runIndex]?.checkpoint);
    if (!ck || ck.isAdapter) return [];
    const mism: { flag: string; got: number; want: number }[] = [];
    for (const [flag, want] of [['n_layer', ck.nLayer], ['n_embd', ck.nEmbd]] as const) {
      const got = argNumber(run, flag);
      if (got !== undefined && want > 0 && got !== want) mism.push({ flag, got, want });
    }
    if (!mism.length) return [];
    const all: Edit[] = [];
    for (const flag of ['n_layer', 'n_embd']) {
      const want = flag === 'n_layer' ? ck.nLayer : ck.nEmbd;
      if (argNumber(run, flag) !== want) all.push(...replaceValue(findArg(run, flag)?.value, String(want)));
    }
    const fix = all.length ? { fixes: [{ title: `Take n_layer ${ck.nLayer} and n_embd ${ck.nEmbd} from the checkpoint`, preferred: true, edits: all }] } : {};
    const out: Finding[] = [];
    for (const m of mism) {
      out.push(onValue('RWKV007', 'error', findArg(run, m.flag)!, `--${m.flag} is ${m.got}, but the checkpoint has ${m.flag} ${m.want} (${ck.version}, ${ck.nLayer} layers × ${ck.nEmbd}).`, fix));
    }
    return out;
  },
};
