// RWKV004: words after train.py that are not flags or their values.
import { flagSpec } from '../flags/flagTable';
import type { Check, Finding } from './types';

export const check: Check = {
  code: 'RWKV004',
  name: 'stray-argument',
  docs: {
    what: 'Words after train.py that belong to no flag: a value given twice, a switch given a value, or an unquoted $variable whose value contains spaces and is split into several words.',
    why: 'argparse stops with "unrecognized arguments".',
    example: `peft_config='{"r": 64}'\npython train.py --peft miss --peft_config $peft_config`,
    fix: 'Quote the variable ("$peft_config") or remove the extra word.',
  },
  checkRun({ run }) {
    const out: Finding[] = [];
    for (const s of run.strays) {
      // several words from one use of a variable: bash split its value on blanks
      const fromSplit = s.via.length > 0 && (run.strays.some((o) => o !== s && o.useSpan.start === s.useSpan.start) || run.args.some((a) => a.value?.useSpan.start === s.useSpan.start));
      const name = s.via[0]?.name;
      const before = run.args.filter((a) => a.nameSpan.end <= s.useSpan.start).pop();
      const afterSwitch = before && !before.value && flagSpec(before.name)?.type === 'switch'
        && !run.strays.some((o) => o.useSpan.start > before.nameSpan.end && o.useSpan.start < s.useSpan.start);
      let message = `"${s.text}" after train.py belongs to no flag (argparse: unrecognized arguments).`;
      if (fromSplit && name) message = `Unquoted $${name} contains spaces, so the shell splits it and train.py gets "${s.text}" as an extra argument; write "$${name}".`;
      else if (afterSwitch) message = `--${before.name} is a switch and takes no value, so "${s.text}" is an extra argument (argparse: unrecognized arguments).`;
      out.push({
        code: 'RWKV004',
        severity: 'error',
        message,
        span: fromSplit ? s.useSpan : s.span,
        ...(fromSplit && name ? { fixes: [{ title: `Quote $${name}`, preferred: true, edits: [{ span: { start: s.useSpan.start, end: s.useSpan.start }, newText: '"' }, { span: { start: s.useSpan.end, end: s.useSpan.end }, newText: '"' }] }] } : {}),
      });
    }
    return dedupe(out);
  },
};

function dedupe(fs: Finding[]): Finding[] {
  const seen = new Set<string>();
  return fs.filter((f) => { const k = `${f.span.start}:${f.span.end}`; if (seen.has(k)) return false; seen.add(k); return true; });
}
