// What is at an offset of a parsed document: a flag name, a flag value, a PEFT settings key, a
// variable assignment, or the train.py call itself. Used by hover and completion.
import { settingsOf } from '../checks/peftSettings';
import type { FlagArg, ObjectEntry, TrainConfig, TrainRun, Value, VariableDef } from '../parse/trainConfig';

export type Located =
  | { kind: 'flag'; run: TrainRun; runIndex: number; arg: FlagArg }
  | { kind: 'value'; run: TrainRun; runIndex: number; arg: FlagArg; value: Value }
  | { kind: 'peftKey'; run: TrainRun; runIndex: number; arg: FlagArg; entry: ObjectEntry }
  | { kind: 'variable'; variable: VariableDef; uses: { run: TrainRun; runIndex: number; arg: FlagArg }[] }
  | { kind: 'run'; run: TrainRun; runIndex: number };

const inside = (o: number, s: { start: number; end: number }): boolean => o >= s.start && o <= s.end;

export function locate(config: TrainConfig, offset: number): Located | undefined {
  for (const [runIndex, run] of config.runs.entries()) {
    if (!inside(offset, run.span) && !run.args.some((a) => a.value && inside(offset, a.value.span))) continue;
    for (const arg of run.args) {
      if (inside(offset, arg.nameSpan)) return { kind: 'flag', run, runIndex, arg };
      for (const value of arg.values ?? (arg.value ? [arg.value] : [])) {
        if (inside(offset, value.useSpan) || inside(offset, value.span)) {
          const s = arg.name.endsWith('_config') ? settingsOf(run, arg.name) : undefined;
          const entry = s?.object?.entries.find((e) => inside(offset, e.keySpan));
          if (entry) return { kind: 'peftKey', run, runIndex, arg, entry };
          if (inside(offset, value.useSpan)) return { kind: 'value', run, runIndex, arg, value };
        }
      }
    }
  }
  for (const variable of config.variables) {
    if (inside(offset, variable.nameSpan) || inside(offset, variable.valueSpan)) {
      // settings keys inside an assignment such as peft_config='{"r":64}'
      for (const [runIndex, run] of config.runs.entries()) {
        for (const arg of run.args) {
          if (!arg.value?.via.some((u) => u.name === variable.name)) continue;
          const s = arg.name.endsWith('_config') ? settingsOf(run, arg.name) : undefined;
          const entry = s?.object?.entries.find((e) => inside(offset, e.keySpan));
          if (entry) return { kind: 'peftKey', run, runIndex, arg, entry };
        }
      }
      const uses = config.runs.flatMap((run, runIndex) => run.args.filter((a) => (a.values ?? (a.value ? [a.value] : [])).some((v) => v.via.some((u) => u.name === variable.name))).map((arg) => ({ run, runIndex, arg })));
      return { kind: 'variable', variable, uses };
    }
  }
  for (const [runIndex, run] of config.runs.entries()) if (inside(offset, run.span)) return { kind: 'run', run, runIndex };
  return undefined;
}
