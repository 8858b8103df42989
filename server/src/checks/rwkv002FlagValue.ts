// RWKV002: a value of the wrong type, outside the allowed set or bounds, or missing.
import { closest } from '../core/didYouMean';
import { flagSpec, type FlagSpec } from '../flags/flagTable';
import type { FlagArg, Value } from '../parse/trainConfig';
import type { Check, Finding } from './types';
import { onValue, replaceValue } from './util';

const INT = /^[+-]?\d+$/;
const FLOAT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?(inf|infinity|nan)$/i;

export const check: Check = {
  code: 'RWKV002',
  name: 'flag-value',
  docs: {
    what: 'Values that train.py cannot take: not a number where one is needed, not one of the allowed values, out of range, or missing.',
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
        if (arg.inline) out.push(onValue('RWKV002', 'error', arg, `--${arg.name} is a switch and takes no value; write just --${arg.name}.`));
        continue;
      }
      if (!arg.value) {
        out.push({ code: 'RWKV002', severity: 'error', message: `--${arg.name} needs ${spec.nargs === '*' ? 'values' : 'a value'} (argparse: expected ${spec.nargs ? 'at least one argument' : 'one argument'}).`, span: arg.nameSpan });
        continue;
      }
      for (const v of arg.values ?? [arg.value]) {
        const f = valueProblem(spec, arg, v);
        if (f) out.push(f);
      }
    }
    return out;
  },
};

function valueProblem(spec: FlagSpec, arg: FlagArg, v: Value): Finding | undefined {
  if (v.dynamic || spec.type === 'json') return undefined;
  const one = { ...arg, value: v };
  const t = v.text;
  if (spec.type === 'int' || spec.type === 'bool01') {
    if (!INT.test(t.trim())) {
      const asFloat = FLOAT.test(t.trim()) ? Number(t) : NaN;
      const fix = Number.isInteger(asFloat) ? [{ title: `Write ${asFloat}`, preferred: true, edits: replaceValue(v, String(asFloat)) }] : [];
      return onValue('RWKV002', 'error', one, `--${arg.name} takes an integer; "${t}" is not one (argparse: invalid int value).`, fix.length && fix[0]!.edits.length ? { fixes: fix } : {});
    }
    const n = Number(t);
    if (spec.type === 'bool01' && n !== 0 && n !== 1) return onValue('RWKV002', 'warning', one, `--${arg.name} is a 0/1 switch; ${t} is treated as on.`);
    return bounds(spec, one, n);
  }
  if (spec.type === 'float') {
    if (!FLOAT.test(t.trim())) return onValue('RWKV002', 'error', one, `--${arg.name} takes a number; "${t}" is not one (argparse: invalid float value).`);
    return bounds(spec, one, Number(t));
  }
  if (spec.values && !spec.values.includes(t)) {
    const guess = closest(t, spec.values);
    const edits = guess ? replaceValue(v, guess) : [];
    return onValue('RWKV002', spec.engine === 'ignored' ? 'warning' : 'error', one,
      `"${t}" is not a value of --${arg.name}; expected one of: ${spec.values.join(', ')}.${guess ? ` Did you mean ${guess}?` : ''}`,
      edits.length ? { fixes: [{ title: `Change to ${guess}`, preferred: true, edits }] } : {});
  }
  return undefined;
}

function bounds(spec: FlagSpec, arg: FlagArg, n: number): Finding | undefined {
  if (spec.min !== undefined && n < spec.min) return onValue('RWKV002', 'error', arg, `--${arg.name} must be at least ${spec.min}; got ${arg.value!.text}.`);
  if (spec.max !== undefined && n > spec.max) return onValue('RWKV002', 'error', arg, `--${arg.name} must be at most ${spec.max}; got ${arg.value!.text}.`);
  return undefined;
}
