// RWKV015: the newer (--peft_config) and older (--lora_config/--pissa_config/--disha_config) PEFT
// forms mixed in one run, or settings for another method than --peft names.
import { findArg } from '../parse/trainConfig';
import type { Check, Finding } from './types';
import { methodFlag, methodOf } from './peftSettings';
import { PEFT_NAMES, peftName } from '../peft/peftKeys';

export const LEGACY_JSON_FLAGS = [...new Set(PEFT_NAMES.flatMap((n) => (n.configFlag ? [n.configFlag] : [])))];
/** The --peft names whose settings each older flag carries (flags.json peftMethods). */
const METHOD_OF: Record<string, string[]> = Object.fromEntries(
  LEGACY_JSON_FLAGS.map((flag) => [flag, PEFT_NAMES.filter((n) => n.configFlag === flag).map((n) => n.name)]),
);

export const check: Check = {
  code: 'RWKV015',
  name: 'mixed-peft-forms',
  docs: {
    what: 'Finds --peft_config together with an older --lora_config/--pissa_config/--disha_config/--miss_config, --peft_config with a method only the older RWKV-PEFT has (pissa, disha, bone), and settings for a method other than the one --peft selects.',
    why: 'Each RWKV-PEFT version reads only its own form: the newest ignores the older configs, the older rejects --peft_config. Settings for another method are silently ignored.',
    example: `--peft lora --peft_config '{"r":8}' --lora_config '{"lora_r":8,...}'`,
    fix: 'Keep one form: --peft_config for the newest RWKV-PEFT, the method\'s own config for the older one.',
  },
  checkRun({ run }) {
    const out: Finding[] = [];
    const method = methodOf(run);
    const newForm = findArg(run, 'peft_config');
    for (const flag of LEGACY_JSON_FLAGS) {
      const a = findArg(run, flag);
      if (!a) continue;
      if (newForm) {
        out.push({ code: 'RWKV015', severity: 'warning', message: `--${flag} (older RWKV-PEFT form) together with --peft_config (newest form): each version reads only its own, so one of them is ignored.`, span: a.nameSpan, related: [{ span: newForm.nameSpan, message: '--peft_config is given here' }] });
      } else if (method !== 'none' && !METHOD_OF[flag]!.includes(method)) {
        out.push({ code: 'RWKV015', severity: 'warning', message: `--${flag} has no effect with ${methodFlag(run)}.`, span: a.nameSpan });
      }
    }
    // the newest RWKV-PEFT builds the method from Hugging Face peft: no pissa/disha/bone there
    const name = peftName(method);
    if (newForm && name && name.method !== 'none' && name.method !== 'state' && !name.trainers.includes('peft')) {
      const peftArg = findArg(run, 'peft')!;
      const advice = method === 'pissa' ? `--peft lora with "init_lora_weights":"pissa" in --peft_config, or the older --pissa_config form` : '--peft miss';
      out.push({ code: 'RWKV015', severity: 'error', message: `--peft ${method} with --peft_config: the newest RWKV-PEFT has no ${method} method; use ${advice}.`, span: peftArg.value?.span ?? peftArg.nameSpan });
    }
    if (findArg(run, 'fla') && findArg(run, 'op')) {
      out.push({ code: 'RWKV015', severity: 'warning', message: '--fla is the older switch for --op fla; give only --op.', span: findArg(run, 'fla')!.nameSpan });
    }
    return out;
  },
};
