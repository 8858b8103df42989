// Reading a run's PEFT settings (inline JSON or a YAML mapping) as an ObjectView, shared by the
// PEFT checks. Also recognises the escaped form '\{"r":64\}' copied from rendered tutorials.
import { OffsetMap } from '../core/offsetMap';
import type { Span } from '../core/span';
import { parseMappedJson, type JsonProblem } from '../parse/objectView';
import { effective } from '../parse/resolve';
import { findArg, type FlagArg, type ObjectView, type TrainRun, type Value } from '../parse/trainConfig';

export interface Settings {
  arg: FlagArg;
  object?: ObjectView;
  problems: JsonProblem[];
  /** Spans of backslashes before { or } (the escaped tutorial form). */
  escapes: Span[];
}

const cache = new WeakMap<Value, Settings>();

export function settingsOf(run: TrainRun, flag: string): Settings | undefined {
  const arg = findArg(run, flag);
  const v = arg?.value;
  if (!arg || !v || v.dynamic) return undefined;
  const hit = cache.get(v);
  if (hit) return hit;
  let result: Settings;
  if (v.structured) result = { arg, object: v.structured, problems: [], escapes: [] };
  else {
    // backslashes before braces survive single quotes and make json.loads fail
    const escapes: Span[] = [];
    let text = v.text;
    let map = v.map;
    if (/\\[{}]/.test(v.text)) {
      text = '';
      map = new OffsetMap();
      let from = 0;
      for (let i = 0; i < v.text.length; i++) {
        if (v.text[i] !== '\\' || (v.text[i + 1] !== '{' && v.text[i + 1] !== '}')) continue;
        const o = v.map.at(i);
        if (o >= 0) escapes.push({ start: o, end: o + 1 });
        text += v.text.slice(from, i);
        map.appendMap(v.map, from, i);
        from = i + 1;
      }
      text += v.text.slice(from);
      map.appendMap(v.map, from);
    }
    const parsed = parseMappedJson({ text, map }, v.span);
    result = { arg, problems: parsed.problems, escapes, ...(parsed.object ? { object: parsed.object } : {}) };
  }
  cache.set(v, result);
  return result;
}

/**
 * The PEFT method of a run: --peft (default none), or state where --train_type state asks for it,
 * which trains the state whatever --peft says (as the engine reads it: train/peft_options.cpp).
 */
export function methodOf(run: TrainRun): string {
  if (byTrainType(run)) return 'state';
  return String(effective(run, 'peft').value ?? 'none');
}

/** How messages name the run's method: the flag that chose it, `--train_type state` or `--peft X`. */
export function methodFlag(run: TrainRun): string {
  return byTrainType(run) ? '--train_type state' : `--peft ${methodOf(run)}`;
}

function byTrainType(run: TrainRun): boolean {
  return effective(run, 'train_type').value === 'state';
}

export function entry(s: Settings | undefined, key: string) {
  return s?.object?.entries.find((e) => e.key === key);
}
