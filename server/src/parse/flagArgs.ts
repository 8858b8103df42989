// Turns the words after train.py into flags the way argparse reads them: `--name value`,
// `--name=value`, store_true switches without a value, nargs lists up to the next `--flag`.
import { flagSpec } from '../flags/flagTable';
import { sliceValue } from './shellExpand';
import type { FlagArg, Value } from './trainConfig';

const isFlagWord = (v: Value): boolean => v.text.startsWith('--') && v.text.length > 2 && !(v.dynamic && v.map.at(0) === -1);

export function parseFlagArgs(words: Value[]): { args: FlagArg[]; strays: Value[] } {
  const args: FlagArg[] = [];
  const strays: Value[] = [];
  for (let j = 0; j < words.length; j++) {
    const w = words[j]!;
    if (!isFlagWord(w)) { strays.push(w); continue; }
    const eq = w.text.indexOf('=');
    const name = (eq < 0 ? w.text.slice(2) : w.text.slice(2, eq));
    const nameSpan = eq < 0 ? w.span : sliceValue(w, 0, eq).span;
    const spec = flagSpec(name);
    const arg: FlagArg = { name, nameSpan, inline: eq >= 0 };
    if (eq >= 0) {
      arg.value = sliceValue(w, eq + 1);
      if (spec?.nargs) arg.values = [arg.value];
    } else if (spec?.type === 'switch') {
      // no value
    } else if (spec?.nargs) {
      arg.values = [];
      while (j + 1 < words.length && !isFlagWord(words[j + 1]!)) arg.values.push(words[++j]!);
      if (arg.values.length) arg.value = arg.values[0];
    } else if (j + 1 < words.length && !isFlagWord(words[j + 1]!)) {
      arg.value = words[++j];
    }
    args.push(arg);
  }
  return { args, strays };
}
