// Small helpers shared by the checks: where to report a value, related "used here" locations,
// and edits that replace a value where the user typed it (also inside a variable's assignment).
import { spanOf, type Span } from '../core/span';
import type { FlagArg, Trainer, TrainRun, Value } from '../parse/trainConfig';
import type { Edit, Finding, Related, Severity } from './types';

/** "used here" entries for values that came through variables. */
export function usedHere(v: Value | undefined): Related[] {
  if (!v) return [];
  return v.via.filter((u) => u.assignSpan).map((u) => ({ span: u.useSpan, message: `$${u.name} is used here` }));
}

/** The span holding exactly the value's characters (for replacing it), or undefined if there is none. */
export function valueEditSpan(v: Value): Span | undefined {
  const s = spanOf(v);
  if (!s) return undefined;
  return s.end - s.start === v.text.length ? s : undefined;
}

export function replaceValue(v: Value | undefined, newText: string): Edit[] {
  const s = v && valueEditSpan(v);
  return s ? [{ span: s, newText }] : [];
}

/** A finding on a flag's value (or its name when it has none), with "used here" related info. */
export function onValue(code: string, severity: Severity, arg: FlagArg, message: string, extra: Partial<Finding> = {}): Finding {
  const related = usedHere(arg.value);
  return {
    code, severity, message,
    span: arg.value ? arg.value.span : arg.nameSpan,
    ...(related.length ? { related } : {}),
    ...extra,
  };
}

export function argSpan(arg: FlagArg): Span {
  return arg.value && arg.value.useSpan.start >= arg.nameSpan.start ? { start: arg.nameSpan.start, end: Math.max(arg.nameSpan.end, arg.value.useSpan.end) } : arg.nameSpan;
}

/** Where to say something about the run as a whole: the `python train.py` words. */
export function runHead(run: TrainRun): Span {
  const firstArg = run.args[0]?.nameSpan.start;
  return { start: run.span.start, end: firstArg !== undefined && firstArg > run.span.start ? Math.min(firstArg, run.span.end) : run.span.end };
}

export function fmt(n: number): string {
  if (Number.isInteger(n)) return String(n);
  return String(Number(n.toPrecision(6)));
}

export function isGiven(v: Value | undefined): v is Value { return !!v && !v.dynamic; }

/** The trainers as messages name them. */
export const TRAINER_NAMES: Record<Trainer, string> = { peft: 'the newest RWKV-PEFT', 'peft-legacy': 'the older RWKV-PEFT', 'lm-v7': 'RWKV-LM v7 pretraining' };
