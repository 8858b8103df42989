// RWKV016: lr_final above lr_init.
import { effective } from '../parse/resolve';
import { findArg } from '../parse/trainConfig';
import type { Check } from './types';
import { onValue, replaceValue } from './util';

export const check: Check = {
  code: 'RWKV016',
  name: 'lr-final-above-init',
  docs: {
    what: 'Warns when the final learning rate is above the initial one (defaults included: lr_init 6e-4, lr_final 1e-5).',
    why: 'The schedule decays from lr_init to lr_final; a higher final rate makes it grow instead, usually a swapped pair.',
    example: '--lr_init 1e-5 --lr_final 1e-4',
    fix: 'Set lr_final to lr_init (quick fix) or swap them.',
  },
  checkRun({ run }) {
    const init = effective(run, 'lr_init').value;
    const fin = effective(run, 'lr_final').value;
    if (typeof init !== 'number' || typeof fin !== 'number' || fin <= init) return [];
    const arg = findArg(run, 'lr_final') ?? findArg(run, 'lr_init');
    if (!arg) return [];
    const edits = findArg(run, 'lr_final') ? replaceValue(findArg(run, 'lr_final')!.value, findArg(run, 'lr_init')?.value?.text ?? String(init)) : [];
    return [onValue('RWKV016', 'warning', arg, `lr_final ${shown(run, 'lr_final', fin)} is above lr_init ${shown(run, 'lr_init', init)}: the learning rate would rise during training.`,
      edits.length ? { fixes: [{ title: `Set lr_final to ${shown(run, 'lr_init', init)}`, preferred: true, edits }] } : {})];
  },
};

function shown(run: Parameters<NonNullable<Check['checkRun']>>[0]['run'], flag: string, value: number): string {
  return findArg(run, flag)?.value?.text ?? String(value);
}
