// RWKV002: a value of the wrong type, outside the allowed set or bounds, or missing.
import { closest } from '../core/didYouMean';
import { flagSpec, valuesFor, type FlagSpec } from '../flags/flagTable';
import type { FlagArg, TrainRun, Value } from '../parse/trainConfig';
import type { Check, Finding } from './types';
import { describe, lookalikes, plainEdits } from '../parse/lookalikes';
import { older2024 } from './rwkv001UnknownFlag';
import { onValue, replaceValue } from './util';

// what Python's int()/float() accept (digits may be grouped with _, fullwidth digits are digits; surrounding blanks are stripped)
const INT = /^[+-]?[0-9０-９]+(_[0-9０-９]+)*$/;
const D = '[0-9０-９]+(?:_[0-9０-９]+)*';
const FLOAT = new RegExp(`^[+-]?(${D}\\.?(?:${D})?|\\.${D})([eE][+-]?${D})?$|^[+-]?(inf|infinity|nan)$`, 'i');

export const check: Check = {
  code: 'RWKV002',
  name: 'flag-value',
  docs: {
    what: 'Values that train.py cannot take: not a number where one is needed, not one of the allowed values, out of range, or missing; typographic quotes that bash passes on inside a value are named as such (quick fix: plain quotes).',
    why: 'argparse rejects a non-number before training; an unknown --precision or --data_type trips an assert in train.py, and other enums silently fall back to a default you did not ask for.',
    example: 'python train.py --precision bf61 --ctx_len 1k',
    fix: 'Use one of the listed values (quick fix: the closest allowed value).',
  },
  checkRun({ run }) {
    const out: Finding[] = [];
    for (const arg of run.args) {
      const spec = flagSpec(arg.name);
      if (!spec || !spec.trainers.includes(run.trainer)) continue;
      if (spec.type === 'switch') {
        if (arg.inline) out.push(onValue('RWKV002', 'error', arg, `--${arg.name} is a switch and takes no value; write just --${arg.name} (argparse: ignored explicit argument).`));
        continue;
      }
      if (!arg.value && arg.refused) {
        const r = arg.refused;
        out.push({ code: 'RWKV002', severity: 'error', span: r.span, message: `argparse reads "${r.text}" as an option, not as the value of --${arg.name} (only plain negative numbers such as -1 or -0.5 are values); write --${arg.name}=${r.text} (argparse: expected one argument).`,
          ...(!r.dynamic && r.via.length === 0 && r.useSpan.start > arg.nameSpan.end ? { fixes: [{ title: `Write --${arg.name}=${r.text}`, preferred: true, edits: [{ span: { start: arg.nameSpan.end, end: r.useSpan.start }, newText: '=' }] }] } : {}) });
        continue;
      }
      if (!arg.value) {
        // `--lora --lora_r 8`: RWKV001 says it is the 2024 switch; "needs a value" would be the same cause twice
        if (arg.written === 'lora' && run.args.some((a) => older2024(a.name) && !flagSpec(a.name))) continue;
        if (spec.nargs === '*') continue; // argparse: an empty list
        out.push({ code: 'RWKV002', severity: 'error', message: `--${arg.name} needs ${spec.nargs ? 'values' : 'a value'} (argparse: expected ${spec.nargs ? 'at least one argument' : 'one argument'}).`, span: arg.nameSpan });
        continue;
      }
      for (const v of arg.values ?? [arg.value]) {
        const f = valueProblem(spec, arg, v, valuesFor(spec, run.trainer));
        if (f) out.push(f);
      }
    }
    return out;
  },
};

/** Whether train.py's argparse takes a written flag's value(s) as they are: RWKV002 has nothing to say about them. */
export function trainPyTakes(run: TrainRun, arg: FlagArg): boolean {
  const spec = flagSpec(arg.name);
  if (!spec || !spec.trainers.includes(run.trainer) || spec.type === 'switch') return false;
  const values = arg.values ?? (arg.value ? [arg.value] : []);
  return values.length > 0 && values.every((v) => !v.dynamic && !valueProblem(spec, arg, v, valuesFor(spec, run.trainer)));
}

function valueProblem(spec: FlagSpec, arg: FlagArg, v: Value, values: string[] | undefined): Finding | undefined {
  if (v.dynamic || spec.type === 'json') return undefined;
  // the arg with this value, made only for a finding (most values have none)
  const one = (): FlagArg => ({ ...arg, value: v });
  const t = v.text;
  // `--my_testing “x070”`: bash passes the typographic quotes on; say that, not "not a value" (one cause, one finding)
  const odd = lookalikes(v);
  if (odd.length) {
    const edits = plainEdits(odd);
    return onValue('RWKV002', 'error', one(), `The value of --${arg.name} holds ${describe(odd[0]!)}${odd.length > 1 ? ` (and ${odd.length - 1} more)` : ''}, which ${odd[0]!.kind === 'quote' ? 'is no shell quote: bash keeps it, so train.py gets' : 'bash does not split words at: train.py gets'} "${t}".`,
      edits.length ? { fixes: [{ title: odd[0]!.kind === 'quote' ? 'Replace with plain quotes' : 'Replace with plain spaces', preferred: true, edits }] } : {});
  }
  if (spec.type === 'int' || spec.type === 'bool01') {
    if (!INT.test(t.trim())) {
      const asFloat = FLOAT.test(t.trim()) ? pyNumber(t) : NaN;
      const fix = Number.isInteger(asFloat) ? [{ title: `Write ${asFloat}`, preferred: true, edits: replaceValue(v, String(asFloat)) }] : [];
      return onValue('RWKV002', 'error', one(), `--${arg.name} takes an integer; "${t}" is not one (argparse: invalid int value).`, fix.length && fix[0]!.edits.length ? { fixes: fix } : {});
    }
    const n = pyNumber(t);
    if (spec.type === 'bool01' && n !== 0 && n !== 1) return onValue('RWKV002', 'warning', one(), `--${arg.name} is a 0/1 switch; ${t} is treated as on.`);
    return bounds(spec, one, n);
  }
  if (spec.type === 'float') {
    if (!FLOAT.test(t.trim())) return onValue('RWKV002', 'error', one(), `--${arg.name} takes a number; "${t}" is not one (argparse: invalid float value).`);
    return bounds(spec, one, pyNumber(t));
  }
  if (spec.nargs && (t === '[]' || t === '')) {
    // `--train_parts []`: train.py gets the word "[]" (or ""), which names no part: nothing of these is trained
    return arg.values!.length === 1 ? onValue('RWKV002', 'info', one(), `--${arg.name} ${t === '' ? '""' : '[]'} gives train.py a list holding the word "${t}", which matches none of ${values?.join(', ') ?? 'the values'}: the same as --${arg.name} with no value (nothing of these is trained).`) : undefined;
  }
  if (values && !values.includes(t)) {
    const guess = closest(t, values);
    const edits = guess ? replaceValue(v, guess) : [];
    return onValue('RWKV002', spec.engine === 'ignored' ? 'warning' : 'error', one(),
      `"${t}" is not a value of --${arg.name}; expected one of: ${values.join(', ')}.${guess ? ` Did you mean ${guess}?` : ''}`,
      edits.length ? { fixes: [{ title: `Change to ${guess}`, preferred: true, edits }] } : {});
  }
  return undefined;
}

function bounds(spec: FlagSpec, at: () => FlagArg, n: number): Finding | undefined {
  if (spec.min !== undefined && n < spec.min) { const arg = at(); return onValue('RWKV002', 'error', arg, `--${arg.name} must be at least ${spec.min}; got ${arg.value!.text}.`); }
  if (spec.max !== undefined && n > spec.max) { const arg = at(); return onValue('RWKV002', 'error', arg, `--${arg.name} must be at most ${spec.max}; got ${arg.value!.text}.`); }
  return undefined;
}

/** The number Python's int()/float() make of a text (digit groups with _ allowed). */
function pyNumber(t: string): number {
  const s = t.trim();
  return Number(PLAIN_NUMBER.test(s) ? s : s.replace(/_/g, '').replace(/[０-９]/g, (d) => String(d.charCodeAt(0) - 0xff10)));
}
/** A number text with no digit group separator or fullwidth digit: Number() reads it as it is. */
const PLAIN_NUMBER = /^[-+.0-9eE]*$/;
