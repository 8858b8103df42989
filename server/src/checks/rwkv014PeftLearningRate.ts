// RWKV014: MiSS/PiSSA learning rate above 1e-4.
import { effective } from '../parse/resolve';
import { findArg } from '../parse/trainConfig';
import type { Check, Edit, Finding } from './types';
import { entry, methodOf, settingsOf } from './peftSettings';
import { peftMethod } from '../peft/peftKeys';
import { replaceValue, usedHere } from './util';

const LIMIT = 1e-4;
const SUGGESTED = '2e-5';

export const check: Check = {
  code: 'RWKV014',
  name: 'peft-learning-rate',
  docs: {
    what: 'Warns when MiSS (also bone/disha) or PiSSA trains with lr_init or lr_final above 1e-4, including the 6e-4 default when --lr_init is left out.',
    why: 'The tutorials give 1e-4 as the most these methods take (2e-5 suggested); above it training tends to diverge.',
    example: '--peft miss --lr_init 3e-4',
    fix: 'Lower the learning rates to 2e-5 (quick fix).',
  },
  checkRun({ run }) {
    const method = methodOf(run);
    const pissaViaLora = method === 'lora' && String(entry(settingsOf(run, 'peft_config'), 'init_lora_weights')?.value ?? '').startsWith('pissa');
    if (!['miss', 'pissa'].includes(peftMethod(method)) && !pissaViaLora) return [];
    const name = pissaViaLora || method === 'pissa' ? 'PiSSA' : 'MiSS';
    const out: Finding[] = [];
    const edits: Edit[] = [];
    const high: string[] = [];
    for (const flag of ['lr_init', 'lr_final']) {
      const { value } = effective(run, flag);
      if (typeof value === 'number' && value > LIMIT) { high.push(`${flag} ${findArg(run, flag)?.value?.text ?? value}`); edits.push(...replaceValue(findArg(run, flag)?.value, SUGGESTED)); }
    }
    if (!high.length) return [];
    const initArg = findArg(run, 'lr_init');
    const peftArg = findArg(run, 'peft')!;
    const insert: Edit[] = [];
    if (!initArg && peftArg.value) insert.push({ span: { start: peftArg.value.useSpan.end, end: peftArg.value.useSpan.end }, newText: ` --lr_init ${SUGGESTED}${findArg(run, 'lr_final') ? '' : ` --lr_final ${SUGGESTED}`}` });
    const target = initArg && typeof effective(run, 'lr_init').value === 'number' && (effective(run, 'lr_init').value as number) > LIMIT ? initArg : (findArg(run, 'lr_final') ?? peftArg);
    const allEdits = [...edits, ...insert];
    out.push({
      code: 'RWKV014', severity: 'warning',
      message: `${name} should train with a learning rate of at most 1e-4 (2e-5 suggested); here ${high.join(', ')}${initArg ? '' : ' (the default, since --lr_init is not given)'}.`,
      span: target.value ? target.value.span : target.nameSpan,
      related: usedHere(target.value),
      ...(allEdits.length ? { fixes: [{ title: `Lower the learning rate to ${SUGGESTED}`, preferred: true, edits: allEdits }] } : {}),
    });
    return out;
  },
};
