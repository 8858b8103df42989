// RWKV001: a flag no train.py knows, with "did you mean".
import { closest } from '../core/didYouMean';
import { FLAGS, flagSpec } from '../flags/flagTable';
import type { Check, Finding } from './types';

/** Flags that existed in some RWKV-PEFT version and were renamed: what to write instead. */
const RENAMED: Record<string, string> = {
  bone_config: '--disha_config (older RWKV-PEFT, --peft disha) or --peft miss --peft_config (newest)',
  lisa_config: 'nothing: LISA was removed from RWKV-PEFT',
  optim: '--optimizer',
  fla: '--op fla',
};

export const check: Check = {
  code: 'RWKV001',
  name: 'unknown-flag',
  docs: {
    what: 'Flags that none of the train.py versions accepts.',
    why: 'argparse stops with "unrecognized arguments" before training starts; a typo such as --n_layers is the usual cause.',
    example: 'python train.py --n_layers 24',
    fix: 'Use the suggested name (quick fix: rename).',
  },
  checkRun({ run }) {
    const out: Finding[] = [];
    for (const arg of run.args) {
      if (flagSpec(arg.name)) continue;
      const renamed = RENAMED[arg.name];
      if (renamed) {
        out.push({ code: 'RWKV001', severity: 'error', message: `--${arg.name} is no longer a train.py flag; use ${renamed}.`, span: arg.nameSpan });
        continue;
      }
      const names = FLAGS.filter((f) => f.trainers.includes(run.trainer)).map((f) => f.name);
      const guess = closest(arg.name, names) ?? closest(arg.name, FLAGS.map((f) => f.name));
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
