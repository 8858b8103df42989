// RWKV004: words after train.py that are not flags or their values.
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
      const split = s.via.length > 0 && s.useSpan.end - s.useSpan.start > 0 && run.strays.some((o) => o !== s && o.useSpan.start === s.useSpan.start);
      const fromSplit = split || run.args.some((a) => a.value && a.value.useSpan.start === s.useSpan.start);
      const name = s.via[0]?.name;
      out.push({
        code: 'RWKV004',
        severity: 'error',
        message: fromSplit && name
          ? `Unquoted $${name} contains spaces, so the shell splits it and train.py gets "${s.text}" as an extra argument; write "$${name}".`
          : `"${s.text}" after train.py belongs to no flag (argparse: unrecognized arguments).`,
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
