// RWKV023: the same flag given twice in one run.
import type { Check, Finding } from './types';

export const check: Check = {
  code: 'RWKV023',
  name: 'duplicate-flag',
  docs: {
    what: 'A flag given more than once in one train.py call.',
    why: 'argparse silently keeps the last one, so editing the first has no effect.',
    example: 'python train.py --ctx_len 512 ... --ctx_len 1024',
    fix: 'Remove one of them.',
  },
  checkRun({ run }) {
    const out: Finding[] = [];
    const last = new Map<string, number>();
    run.args.forEach((a, i) => last.set(a.name, i));
    run.args.forEach((a, i) => {
      const j = last.get(a.name)!;
      if (j === i) return;
      const later = run.args[j]!;
      out.push({ code: 'RWKV023', severity: 'warning', message: `--${a.name} is given again later; train.py uses the last one${later.value ? ` (${later.value.text})` : ''}.`, span: a.nameSpan, related: [{ span: later.nameSpan, message: 'the value train.py uses' }] });
    });
    return out;
  },
};
