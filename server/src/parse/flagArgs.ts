// Turns the words after train.py into flags the way argparse reads them (flags/argparse.ts):
// `--name value`, `--name=value`, unique prefixes (`--micro 2` is --micro_bsz), store_true
// switches without a value, nargs lists up to the next option, negative numbers as values but
// `-1e-5` as an (unknown) option, and an ambiguous prefix kept with its candidates.
import { dashWordKind, isArgparseOnly, resolveOption } from '../flags/argparse';
import { flagSpec } from '../flags/flagTable';
import { lookalikes } from './lookalikes';
import { sliceValue } from './shellExpand';
import type { FlagArg, Trainer, Value } from './trainConfig';

/** A word argparse reads as an option (`--x`, or `-x` that is no negative number). Unknown leading characters are not. */
function isOptionWord(v: Value): boolean {
  const t = v.text;
  if (t.length < 2 || t.charCodeAt(0) !== 45 /* - */) return false;
  if (v.dynamic && v.map.at(0) === -1) return false;
  if (t.charCodeAt(1) === 45) return true; // `--name`, and `--` (the end of options)
  return dashWordKind(t) === 'option';
}
const isLongOption = (v: Value): boolean => v.text.length > 2 && v.text.startsWith('--') && !(v.dynamic && v.map.at(0) === -1);

/**
 * `trainer` undefined resolves prefixes against every trainer's options (enough to detect the
 * trainer); `needsTrainerPass` says whether a pass for the detected trainer could read differently.
 */
export function parseFlagArgs(words: Value[], trainer?: Trainer): { args: FlagArg[]; strays: Value[]; needsTrainerPass: boolean } {
  const args: FlagArg[] = [];
  const strays: Value[] = [];
  let needsTrainerPass = false;
  let endOfOptions = false;
  for (let j = 0; j < words.length; j++) {
    const w = words[j]!;
    if (endOfOptions || !isLongOption(w)) {
      if (!endOfOptions && w.text === '--') endOfOptions = true; // argparse: every word after it is an argument
      if (!endOfOptions && isOptionWord(w)) needsTrainerPass = true;
      strays.push(w);
      continue;
    }
    const eq = w.text.indexOf('=');
    const written = (eq < 0 ? w.text.slice(2) : w.text.slice(2, eq));
    const nameSpan = eq < 0 ? w.span : sliceValue(w, 0, eq).span;
    const r = resolveOption(written, trainer);
    const name = r.kind === 'exact' || r.kind === 'prefix' ? r.name : written;
    if (r.kind !== 'exact') needsTrainerPass = true;
    const spec = r.kind === 'ambiguous' ? undefined : flagSpec(name);
    const arg: FlagArg = { name, nameSpan, inline: eq >= 0 };
    if (r.kind === 'prefix') arg.written = written;
    if (r.kind === 'ambiguous') arg.ambiguous = r.candidates;
    if (r.kind === 'unknown') {
      // `--n_layer<NBSP>24`: one word to bash, so argparse sees an unknown option; name the character
      const odd = lookalikes(w).filter((l) => eq < 0 || l.offset < eq);
      if (odd.length) arg.lookalikes = odd;
    }
    if ((r.kind === 'exact' || r.kind === 'prefix') && !spec && isArgparseOnly(name, trainer)) arg.argparseOnly = true;
    if (eq >= 0) {
      arg.value = sliceValue(w, eq + 1);
      if (spec?.nargs) arg.values = [arg.value];
    } else if (spec?.type === 'switch') {
      // no value
    } else if (spec?.nargs) {
      arg.values = [];
      while (j + 1 < words.length && !isOptionWord(words[j + 1]!)) arg.values.push(words[++j]!);
      if (arg.values.length) arg.value = arg.values[0];
    } else if (j + 1 < words.length && !isOptionWord(words[j + 1]!)) {
      arg.value = words[++j];
    } else if (spec && j + 1 < words.length && !isLongOption(words[j + 1]!) && words[j + 1]!.text !== '--') {
      // `--lr_init -1e-5`: argparse reads -1e-5 as an option, so --lr_init has no value
      arg.refused = words[++j];
    }
    args.push(arg);
  }
  return { args, strays, needsTrainerPass };
}
