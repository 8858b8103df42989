// Which train.py a run is written for, from the flags it uses (the trainers accept different
// flags; see flags.json `trainers`). The lists are flags.json's `trainerDetection`, which the
// engine CLI reads too (engine/core/flags.cpp detect_trainer), so both pick the same trainer.
import table from '../flags/flags.json';
import type { FlagArg, Trainer } from './trainConfig';

const D = (table as unknown as { trainerDetection: Record<'lmOnly' | 'legacyOnly' | 'newOnly' | 'legacyPeft' | 'legacyForms', string[]> }).trainerDetection;
const LM_ONLY = D.lmOnly;
const LEGACY_ONLY = D.legacyOnly;
const NEW_ONLY = D.newOnly;

/** What picked a run's trainer; `trainerReason` words it (hover shows it in the client's language). */
export type TrainerEvidence =
  | { kind: 'declared'; trainer: Trainer }
  | { kind: 'flag'; flag: string; trainer: Trainer }
  | { kind: 'legacyMethod'; peft: string }
  | { kind: 'legacyForm' }
  | { kind: 'none' };

export function detectTrainer(args: FlagArg[], declared?: string): { trainer: Trainer; evidence: TrainerEvidence } {
  if (declared === 'peft' || declared === 'peft-legacy' || declared === 'lm-v7') return { trainer: declared, evidence: { kind: 'declared', trainer: declared } };
  const has = (n: string): boolean => args.some((a) => a.name === n);
  const byFlag = (flag: string, trainer: Trainer) => ({ trainer, evidence: { kind: 'flag', flag, trainer } as const });
  const lm = LM_ONLY.find(has);
  const legacyForm = D.legacyForms.find(has);
  // (a PEFT flag wins over an RWKV-LM one: `--head_size` is then RWKV-PEFT's ambiguous prefix)
  if (lm && !has('peft') && !NEW_ONLY.some(has) && !LEGACY_ONLY.some(has) && !legacyForm) return byFlag(lm, 'lm-v7');
  const newer = NEW_ONLY.find(has);
  if (newer) return byFlag(newer, 'peft');
  const legacy = LEGACY_ONLY.find(has);
  if (legacy) return byFlag(legacy, 'peft-legacy');
  const peft = args.find((a) => a.name === 'peft')?.value?.text;
  if (peft !== undefined && D.legacyPeft.includes(peft)) return { trainer: 'peft-legacy', evidence: { kind: 'legacyMethod', peft } };
  if (legacyForm) return { trainer: 'peft-legacy', evidence: { kind: 'legacyForm' } };
  if (lm) return byFlag(lm, 'lm-v7');
  return { trainer: 'peft', evidence: { kind: 'none' } };
}

const FLAG_OF: Record<Trainer, { en: string; zh: string }> = {
  'lm-v7': { en: 'an RWKV-LM pretraining flag', zh: 'RWKV-LM 预训练的参数' },
  peft: { en: 'a flag of the newest RWKV-PEFT', zh: '新版 RWKV-PEFT 的参数' },
  'peft-legacy': { en: 'a flag of the older RWKV-PEFT', zh: '旧版 RWKV-PEFT 的参数' },
};

/** Why a run's trainer was chosen, in English (the checks' messages) or Chinese (hover for zh clients). */
export function trainerReason(e: TrainerEvidence, lang: 'en' | 'zh' = 'en'): string {
  const zh = lang === 'zh';
  switch (e.kind) {
    case 'declared': return zh ? `声明为 ${e.trainer}` : `declared as ${e.trainer}`;
    case 'flag': return zh ? `--${e.flag} 是${FLAG_OF[e.trainer].zh}` : `--${e.flag} is ${FLAG_OF[e.trainer].en}`;
    case 'legacyMethod': return zh ? `--peft ${e.peft} 是旧版 RWKV-PEFT 的方法名` : `--peft ${e.peft} is the older RWKV-PEFT's method name`;
    case 'legacyForm': return zh ? '旧版 RWKV-PEFT 的 --lora_config/--pissa_config 写法' : 'the --lora_config/--pissa_config form of the older RWKV-PEFT';
    case 'none': return zh ? '没有只属于其他 train.py 的参数' : 'no flag that only another train.py has';
  }
}
