// Which train.py a run is written for, from the flags it uses (the trainers accept different
// flags; see flags.json `trainers`). The lists are flags.json's `trainerDetection`, which the
// engine CLI reads too (engine/core/flags.cpp detect_trainer), so both pick the same trainer.
import table from '../flags/flags.json';
import type { FlagArg, Trainer } from './trainConfig';

const D = (table as unknown as { trainerDetection: Record<'lmOnly' | 'legacyOnly' | 'newOnly' | 'legacyPeft' | 'legacyForms', string[]> }).trainerDetection;
const LM_ONLY = D.lmOnly;
const LEGACY_ONLY = D.legacyOnly;
const NEW_ONLY = D.newOnly;

export function detectTrainer(args: FlagArg[], declared?: string): { trainer: Trainer; reason: string } {
  if (declared === 'peft' || declared === 'peft-legacy' || declared === 'lm-v7') return { trainer: declared, reason: `declared as ${declared}` };
  const has = (n: string): boolean => args.some((a) => a.name === n);
  const lm = LM_ONLY.find(has);
  const legacyForm = D.legacyForms.find(has);
  // (a PEFT flag wins over an RWKV-LM one: `--head_size` is then RWKV-PEFT's ambiguous prefix)
  if (lm && !has('peft') && !NEW_ONLY.some(has) && !LEGACY_ONLY.some(has) && !legacyForm) return { trainer: 'lm-v7', reason: `--${lm} is an RWKV-LM pretraining flag` };
  const newer = NEW_ONLY.find(has);
  if (newer) return { trainer: 'peft', reason: `--${newer} is a flag of the newest RWKV-PEFT` };
  const legacy = LEGACY_ONLY.find(has);
  if (legacy) return { trainer: 'peft-legacy', reason: `--${legacy} is a flag of the older RWKV-PEFT` };
  const peft = args.find((a) => a.name === 'peft')?.value?.text;
  if (peft !== undefined && D.legacyPeft.includes(peft)) return { trainer: 'peft-legacy', reason: `--peft ${peft} is the older RWKV-PEFT's method name` };
  if (legacyForm) return { trainer: 'peft-legacy', reason: 'the --lora_config/--pissa_config form of the older RWKV-PEFT' };
  if (lm) return { trainer: 'lm-v7', reason: `--${lm} is an RWKV-LM pretraining flag` };
  return { trainer: 'peft', reason: 'no flag that only another train.py has' };
}
