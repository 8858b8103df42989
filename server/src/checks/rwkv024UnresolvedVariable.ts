// RWKV024: flag values that use variables the script never sets.
import type { Check, Finding } from './types';

export const check: Check = {
  code: 'RWKV024',
  name: 'unresolved-variable',
  docs: {
    what: 'Notes flag values that use a variable not assigned in the script (it comes from the environment or is a typo).',
    why: 'Such values cannot be checked here, and an unset variable expands to nothing, which shifts the following words.',
    example: 'python train.py --n_layer $N_LAYERS   # only N_LAYER is set',
    fix: 'Assign the variable in the script, or correct its name.',
  },
  checkRun({ run, config }) {
    const out: Finding[] = [];
    const seen = new Set<number>();
    for (const arg of run.args) {
      for (const v of arg.values ?? (arg.value ? [arg.value] : [])) {
        for (const u of v.via) {
          if (!v.unresolved.includes(u.name) || u.assignSpan || seen.has(u.useSpan.start)) continue;
          seen.add(u.useSpan.start);
          const near = config.variables.map((d) => d.name).find((d) => d.toLowerCase() === u.name.toLowerCase() || d === u.name.replace(/S$/, ''));
          out.push({ code: 'RWKV024', severity: 'info', message: `$${u.name} is not set in this script${near ? ` (did you mean $${near}?)` : ''}; --${arg.name} cannot be checked.`, span: u.useSpan });
        }
      }
    }
    return out;
  },
};
