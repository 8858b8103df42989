// RWKV001: a flag no train.py knows, with "did you mean".
import { closest } from '../core/didYouMean';
import { ambiguousMessage } from '../flags/argparse';
import { FLAGS, flagSpec } from '../flags/flagTable';
import { describe, plainEdits } from '../parse/lookalikes';
import { trainerReason } from '../parse/trainer';
import { TRAINER_NAMES } from './util';
import type { Check, Finding } from './types';
import type { Trainer } from '../parse/trainConfig';

/** Flags that existed in some RWKV-PEFT version and were renamed: what to write instead. */
const RENAMED: Record<string, string> = {
  bone_config: '--disha_config (older RWKV-PEFT, --peft disha) or --peft miss --peft_config (newest)',
  lisa_config: 'nothing: LISA was removed from RWKV-PEFT',
  optim: '--optimizer',
  fla: '--op fla',
};

/**
 * Flags of the 2024 RWKV-PEFT (and RWKV-LM-LoRA before it): `--lora --lora_r 8 --lora_alpha 16
 * --lora_dropout 0.01 --lora_parts=att,ffn,time,ln`. Their settings moved into one JSON flag.
 */
const OLDER_2024: Record<string, string> = {
  lora_r: '"r" in --peft_config (newest) or "lora_r" in --lora_config (older)',
  lora_alpha: '"lora_alpha" in --peft_config (newest) or --lora_config (older)',
  lora_dropout: '"lora_dropout" in --peft_config (newest) or --lora_config (older)',
  lora_load: '"lora_load" in --lora_config (older)',
  lora_parts: '--train_parts (older)',
};
export const older2024 = (name: string): string | undefined => OLDER_2024[name];
const NEW_FORM = `--peft lora --peft_config '{"r":8,"lora_alpha":16}' (newest) or --lora_config '{"lora_load":"","lora_r":8,"lora_alpha":16,"lora_dropout":0.01}' (older)`;

const ALL_NAMES = FLAGS.map((f) => f.name);
const namesOf = new Map<Trainer, string[]>();
/** The trainer's flag names, one list per trainer (closest() remembers its answers per list). */
function trainerFlagNames(trainer: Trainer): string[] {
  let names = namesOf.get(trainer);
  if (!names) namesOf.set(trainer, names = FLAGS.filter((f) => f.trainers.includes(trainer)).map((f) => f.name));
  return names;
}

export const check: Check = {
  code: 'RWKV001',
  name: 'unknown-flag',
  docs: {
    what: 'Flags that none of the train.py versions accepts: typos, flags of the 2024 RWKV-PEFT (--lora --lora_r ...) with what replaced them, and options glued to their value by a non-breaking space or typographic quote (named, with a quick fix).',
    why: 'argparse stops with "unrecognized arguments" before training starts; a typo such as --n_layers is the usual cause.',
    example: 'python train.py --n_layers 24',
    fix: 'Use the suggested name (quick fix: rename).',
  },
  checkRun({ run }) {
    const out: Finding[] = [];
    for (const arg of run.args) {
      const typed = arg.written ?? arg.name;
      const nameAt = { start: arg.nameSpan.end - typed.length, end: arg.nameSpan.end };
      const literalName = arg.nameSpan.end - arg.nameSpan.start === typed.length + 2;
      if (arg.ambiguous) {
        // argparse's own error, before anything else runs
        const elsewhere = flagSpec(arg.name);
        const other = elsewhere ? ` (--${arg.name} is a flag of ${elsewhere.trainers.map((t) => TRAINER_NAMES[t]).join(' and ')}, not of ${TRAINER_NAMES[run.trainer]}: ${trainerReason(run.trainerEvidence)})` : '';
        out.push({
          code: 'RWKV001', severity: 'error', span: arg.nameSpan,
          message: `--${arg.name} is ambiguous for ${TRAINER_NAMES[run.trainer]}'s train.py (argparse: ${ambiguousMessage(`--${arg.name}`, arg.ambiguous)})${other}.`,
          ...(literalName ? { fixes: arg.ambiguous.filter((c) => c !== 'help').map((c) => ({ title: `Write --${c}`, edits: [{ span: nameAt, newText: c }] })) } : {}),
        });
        continue;
      }
      // `--lora` next to `--lora_r 8`: the 2024 switch, which argparse now reads as a prefix of --lora_config
      if (arg.written === 'lora' && run.args.some((a) => older2024(a.name) && !flagSpec(a.name))) {
        out.push({
          code: 'RWKV001', severity: 'error', span: arg.nameSpan,
          message: `--lora is the switch of the 2024 RWKV-PEFT; ${TRAINER_NAMES[run.trainer]}'s train.py has no such switch (argparse reads --lora as --lora_config, which needs a JSON value). Write ${NEW_FORM}.`,
        });
        continue;
      }
      if (arg.written !== undefined) {
        out.push({
          code: 'RWKV001', severity: 'info', span: arg.nameSpan,
          message: `--${arg.written} is argparse's abbreviation of --${arg.name} (train.py accepts any unique prefix); writing it in full keeps it valid if a later train.py adds a flag with the same start.`,
          ...(literalName ? { fixes: [{ title: `Write --${arg.name}`, preferred: true, edits: [{ span: nameAt, newText: arg.name }] }] } : {}),
        });
        if (flagSpec(arg.name)) continue;
      }
      if (arg.argparseOnly) {
        out.push({
          code: 'RWKV001', severity: 'warning', span: arg.nameSpan,
          message: arg.name === 'help'
            ? '--help makes train.py print its options and exit without training.'
            : `--${arg.name} is a Lightning Trainer argument that this train.py accepts (Trainer.add_argparse_args), but RWKV Studio does not check it and the native engine does not take it.`,
        });
        continue;
      }
      if (flagSpec(arg.name)) continue;
      const renamed = RENAMED[arg.name];
      if (renamed) {
        out.push({ code: 'RWKV001', severity: 'error', message: `--${arg.name} is no longer a train.py flag; use ${renamed}.`, span: arg.nameSpan });
        continue;
      }
      const older = older2024(arg.name);
      if (older) {
        out.push({ code: 'RWKV001', severity: 'error', span: arg.nameSpan, message: `--${arg.name} is a flag of the 2024 RWKV-PEFT, which ${TRAINER_NAMES[run.trainer]}'s train.py no longer has (argparse: unrecognized arguments); the setting is now ${older}.` });
        continue;
      }
      if (arg.lookalikes?.length) {
        const l = arg.lookalikes[0]!;
        const edits = plainEdits(arg.lookalikes);
        const shown = arg.name.replace(/[^\x20-\x7e]/g, (c) => `<U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}>`);
        out.push({
          code: 'RWKV001', severity: 'error', span: arg.nameSpan,
          message: l.kind === 'space'
            ? `--${shown} holds ${describe(l)} where a space belongs: bash splits words only at plain spaces and tabs, so train.py gets one unknown option (argparse: unrecognized arguments).`
            : `--${shown} holds ${describe(l)}, which is no shell quote: bash keeps it inside the word, so train.py gets an unknown option (argparse: unrecognized arguments).`,
          ...(edits.length ? { fixes: [{ title: l.kind === 'space' ? 'Replace with a plain space' : 'Replace with a plain quote', preferred: true, edits }] } : {}),
        });
        continue;
      }
      const guess = closest(arg.name, trainerFlagNames(run.trainer)) ?? closest(arg.name, ALL_NAMES);
      const width = arg.nameSpan.end - arg.nameSpan.start;
      const nameIsLiteral = width === arg.name.length || width === arg.name.length + 2;
      out.push({
        code: 'RWKV001',
        severity: 'error',
        message: `Unknown flag --${arg.name}${guess ? `; did you mean --${guess}?` : '.'}`,
        span: arg.nameSpan,
        ...(guess && nameIsLiteral ? { fixes: [{ title: `Rename to --${guess}`, preferred: true, edits: [{ span: { start: arg.nameSpan.end - arg.name.length, end: arg.nameSpan.end }, newText: guess }] }] } : {}),
      });
    }
    return out;
  },
};
