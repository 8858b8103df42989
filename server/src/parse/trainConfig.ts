// The typed result of parsing any training document (shell script, YAML, JSON): the train.py
// runs it contains, each flag with the exact document spans behind its name and value.
import type { MappedText, Span } from '../core/span';

export type Trainer = 'peft' | 'peft-legacy' | 'lm-v7';

/** A value as train.py would receive it, and where it came from in the document. */
export interface Value extends MappedText {
  /** Where to report a problem with the whole value: the assignment when the value came from one variable. */
  span: Span;
  /** Where the value appears in the train.py call (differs from span when it came through a variable). */
  useSpan: Span;
  /** Variables expanded into this value, with their use and assignment spans. */
  via: VariableUse[];
  /** Part of the value is unknown here ($(...), $1, an unset variable): checks must not judge it. */
  dynamic: boolean;
  /** Variables used but never assigned in the document. */
  unresolved: string[];
  /** A structured value (YAML mapping/sequence, or JSON already parsed by the document parser). */
  structured?: ObjectView;
}

export interface VariableUse { name: string; useSpan: Span; assignSpan?: Span }

import type { Lookalike } from './lookalikes';
import type { TrainerEvidence } from './trainer';

/** One `--name value` (or YAML key) in a run. */

export interface FlagArg {
  name: string;
  /** The flag as written, `--n_layer` or the YAML key. */
  nameSpan: Span;
  value?: Value;
  /** nargs flags (`--train_parts time ln`): every value after the name. */
  values?: Value[];
  /** Written as `--name=value`. */
  inline: boolean;
  /** The prefix as written when argparse expands an abbreviation (`--micro` for micro_bsz); `name` is the full name. */
  written?: string;
  /** An ambiguous prefix (argparse's error): the options it could mean; `name` is as written. */
  ambiguous?: string[];
  /** An option train.py's argparse accepts that the flag table does not describe (--help, Lightning Trainer arguments). */
  argparseOnly?: boolean;
  /** The word after the flag that argparse refused as its value because it reads it as an option (`--lr_init -1e-5`). */
  refused?: Value;
  /** Typographic quotes or Unicode spaces in an unknown option's word (`--n_layer<NBSP>24`), which bash keeps inside it. */
  lookalikes?: Lookalike[];
}

/** A JSON object with positions: inline peft_config text, a .json file, or a YAML mapping. */
export interface ObjectView {
  entries: ObjectEntry[];
  span: Span;
}
export interface ObjectEntry {
  key: string;
  keySpan: Span;
  value: unknown;
  valueSpan: Span;
  /** The value's source text, for replacing it. */
  valueText?: string;
}

export interface TrainRun {
  /** 0-based line of the command that starts the run (the `python train.py` line). */
  line: number;
  span: Span;
  /** python / python3 / torchrun / deepspeed / accelerate / yaml / json */
  launcher: string;
  /** The train.py path as written (expanded). */
  script: string;
  trainer: Trainer;
  /** Why that trainer was chosen (worded by trainerReason, shown in hover and in messages). */
  trainerEvidence: TrainerEvidence;
  args: FlagArg[];
  /** Every word after train.py, expanded, as bash passes them (the differential tests compare these with bash). */
  words?: Value[];
  /** The call forwards the script's own arguments (`"$@"`): more flags may come at run time. */
  forwardsArgs?: boolean;
  /** The call is in one of several exclusive branches (if/elif/else, case arms): which one, e.g. "case $MODEL in v6)". */
  branch?: string;
  /** Bash never runs it: in a case arm that the known subject does not match, or after a command that stops a `set -e` script (checked, but not offered to Run Training). */
  unreachable?: boolean;
  /** Words after train.py known only at run time that may hold flags (`"$@"`, an unset `$EXTRA`, `$(...)`). */
  openArgs?: Value[];
  /** Words after train.py that are not flags (argparse: "unrecognized arguments"). */
  strays: Value[];
  /** Variables exported before the call plus env prefixes (CUDA_VISIBLE_DEVICES=0 python ...). */
  env: Record<string, string>;
  /** Directory changed to with `cd` before the call, as written (relative to the script's cwd). */
  cd?: string;
  /** The call ended at this line (0-based) without a trailing \, and the next command is a flag: bash runs it as a command.
   * `exits`: `set -e` is on there, so that command's failure stops the script (the calls after it are unreachable). */
  endedEarly?: { line: number; next: Span; nextText: string; exits?: boolean };
}

/** A python call of another script (RWKV-PEFT's merge/merge.py, a data tool): its words as bash passes them, for the checks that need no flag table. */
export interface ScriptCall {
  /** The script as written (expanded), e.g. merge/merge.py. */
  script: string;
  /** 0-based line of the command. */
  line: number;
  span: Span;
  /** Every word after the script. */
  words: Value[];
}

export interface ParseProblem {
  span: Span; message: string; severity: 'error' | 'warning' | 'info';
  /** A quick fix (e.g. convert CRLF line endings to LF). */
  fix?: { title: string; edits: { span: Span; newText: string }[] };
}

export interface VariableDef { name: string; nameSpan: Span; valueSpan: Span; value: string; exported: boolean; dynamic: boolean }

export interface TrainConfig {
  kind: 'shell' | 'yaml' | 'json' | 'peft-json';
  runs: TrainRun[];
  /** Python calls of scripts other than train.py (shell scripts only). */
  scriptCalls: ScriptCall[];
  /** A standalone peft_config .json file. */
  peft?: ObjectView;
  /** The method a standalone peft_config is for, when the file name or keys say it. */
  peftMethod?: string;
  variables: VariableDef[];
  problems: ParseProblem[];
  /** Why bash would run something else than the runs read here (CRLF line endings): Run Training refuses. */
  bashDiffers?: string;
}

export function emptyConfig(kind: TrainConfig['kind']): TrainConfig {
  return { kind, runs: [], scriptCalls: [], variables: [], problems: [] };
}

export function findArg(run: TrainRun, name: string): FlagArg | undefined {
  // argparse keeps the last occurrence
  for (let i = run.args.length - 1; i >= 0; i--) if (run.args[i]!.name === name) return run.args[i];
  return undefined;
}

export function argText(run: TrainRun, name: string): string | undefined {
  const a = findArg(run, name);
  if (!a || !a.value || a.value.dynamic) return undefined;
  return a.value.text;
}

export function argNumber(run: TrainRun, name: string): number | undefined {
  const t = argText(run, name);
  if (t === undefined || t.trim() === '') return undefined;
  const v = Number(t);
  return Number.isFinite(v) ? v : undefined;
}
