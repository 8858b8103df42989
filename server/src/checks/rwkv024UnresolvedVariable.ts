// RWKV024: flag values that use variables the script never sets, in train.py calls and in the
// script's other python calls (RWKV-PEFT's merge/merge.py), which nothing else checks.
import type { TrainConfig, Value } from '../parse/trainConfig';
import type { Check, Finding } from './types';

export const check: Check = {
  code: 'RWKV024',
  name: 'unresolved-variable',
  docs: {
    what: 'Notes flag values that use a variable not assigned in the script (it comes from the environment or is a typo), in train.py calls and in other python calls such as merge/merge.py.',
    why: 'Such values cannot be checked here, and an unset variable expands to nothing, which shifts the following words (a merge script whose `--lora_alpha $lora_alpha` reads an unset variable stops with argparse\'s "expected one argument").',
    example: 'python train.py --n_layer $N_LAYERS   # only N_LAYER is set',
    fix: 'Assign the variable in the script, or correct its name.',
  },
  checkRun({ run, config }) {
    const out: Finding[] = [];
    const seen = new Set<number>();
    for (const arg of run.args) {
      for (const v of arg.values ?? (arg.value ? [arg.value] : [])) {
        for (const u of unset(v, seen)) out.push({ code: 'RWKV024', severity: 'info', message: `$${u.name} is not set in this script${didYouMean(config, u.name)}; --${arg.name} cannot be checked.`, span: u.useSpan });
      }
    }
    return out;
  },
  checkDocument(config) {
    const out: Finding[] = [];
    const seen = new Set<number>();
    for (const call of config.scriptCalls) {
      const script = call.script.split('/').pop()!;
      call.words.forEach((w, i) => {
        const flag = i > 0 && /^--?[A-Za-z]/.test(call.words[i - 1]!.text) && !w.text.startsWith('-') ? call.words[i - 1]!.text : undefined;
        for (const u of unset(w, seen)) {
          out.push({ code: 'RWKV024', severity: 'info', span: u.useSpan,
            message: `$${u.name} is not set in this script${didYouMean(config, u.name)}; unless the environment sets it, ${script} gets nothing there${flag ? ` for ${flag}` : ''}.` });
        }
      });
    }
    return out;
  },
};

/** The variables of a value that are never assigned in the document, each use once. */
function unset(v: Value, seen: Set<number>) {
  return v.via.filter((u) => {
    if (!v.unresolved.includes(u.name) || u.assignSpan || seen.has(u.useSpan.start)) return false;
    seen.add(u.useSpan.start);
    return true;
  });
}

/** A variable the script does set whose name differs only in case or a trailing S. */
function didYouMean(config: TrainConfig, name: string): string {
  const near = config.variables.map((d) => d.name).find((d) => d.toLowerCase() === name.toLowerCase() || d === name.replace(/S$/, ''));
  return near ? ` (did you mean $${near}?)` : '';
}
