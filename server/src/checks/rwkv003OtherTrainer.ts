// RWKV003: a real flag, but of another train.py than the one this run is written for.
import { flagSpec } from '../flags/flagTable';
import type { Check, Finding } from './types';
import { LEGACY_JSON_FLAGS } from './rwkv015MixedForms';
import { trainerReason } from '../parse/trainer';
import { TRAINER_NAMES } from './util';

const NAMES = TRAINER_NAMES;

export const check: Check = {
  code: 'RWKV003',
  name: 'flag-of-other-trainer',
  docs: {
    what: 'Flags that exist, but only in another train.py (RWKV-PEFT new/old, RWKV-LM v7) than the one the run is written for.',
    why: 'That train.py stops with "unrecognized arguments"; usually a flag copied from another project\'s script.',
    example: 'python train.py --peft lora --peft_config \'{"r":8}\' --train_stage 3',
    fix: 'Remove the flag, or use the form of the trainer you run (e.g. --peft_config instead of --lora_config).',
  },
  checkRun({ run }) {
    const out: Finding[] = [];
    for (const arg of run.args) {
      if (arg.ambiguous) continue; // RWKV001: argparse's ambiguity error says it
      const spec = flagSpec(arg.name);
      if (!spec || spec.trainers.includes(run.trainer)) continue;
      if (LEGACY_JSON_FLAGS.includes(arg.name) && run.args.some((a) => a.name === 'peft_config')) continue; // RWKV015 explains it
      const where = spec.trainers.map((t) => NAMES[t]).join(' and ');
      out.push({ code: 'RWKV003', severity: 'error', message: `--${arg.name} is a flag of ${where}, not of ${NAMES[run.trainer]} (${trainerReason(run.trainerEvidence)}).`, span: arg.nameSpan });
    }
    return out;
  },
};
