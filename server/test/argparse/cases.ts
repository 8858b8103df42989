// The command lines of the argparse differential test, generated from the flag table so every
// flag of every trainer is covered: its exact form, `--name=value`, the shortest prefix argparse
// expands to it and the longest one that is still ambiguous, then hand-written cases for types,
// negative numbers, repeated flags, nargs lists, switches, `--` and unknown options.
import { optionNames, TRAINERS } from '../../src/flags/argparse';
import { FLAGS, type FlagSpec } from '../../src/flags/flagTable';
import type { Trainer } from '../../src/parse/trainConfig';

export interface Case { trainer: Trainer; argv: string[] }

/** A flag that makes the server detect the trainer (train.py accepts it too). */
export const MARKER: Record<Trainer, string[]> = { peft: ['--peft_config', '{}'], 'peft-legacy': ['--disha_config', '{}'], 'lm-v7': ['--train_stage', '1'] };

function sample(f: FlagSpec): string[] {
  if (f.type === 'switch') return [];
  if (f.nargs) return f.values ? f.values.slice(0, 2) : ['a', 'b'];
  if (f.values) return [f.values[0]!];
  return [{ int: '3', bool01: '1', float: '0.5', json: '{}', path: 'p/x', string: 'x' }[f.type] ?? 'x'];
}

export function generateCases(): Case[] {
  const cases: Case[] = [];
  const add = (trainer: Trainer, ...argv: string[]): void => { cases.push({ trainer, argv: [...MARKER[trainer], ...argv] }); };
  for (const trainer of TRAINERS) {
    const names = optionNames(trainer);
    for (const f of FLAGS) {
      if (!f.trainers.includes(trainer)) continue;
      const v = sample(f);
      add(trainer, `--${f.name}`, ...v);
      if (f.type !== 'switch') add(trainer, `--${f.name}=${v[0] ?? ''}`, ...v.slice(1));
      let unique: string | undefined;
      let ambiguous: string | undefined;
      for (let len = 1; len < f.name.length; len++) {
        const p = f.name.slice(0, len);
        const n = names.filter((x) => x.startsWith(p)).length;
        if (n === 1 && !unique) unique = p;
        if (n > 1) ambiguous = p;
      }
      if (unique) add(trainer, `--${unique}`, ...v);
      if (unique && f.type !== 'switch') add(trainer, `--${unique}=${v[0] ?? ''}`, ...v.slice(1));
      if (ambiguous) add(trainer, `--${ambiguous}`, ...v);
    }
  }
  // hand-written: types as Python converts them, negative numbers, repetition, lists, switches
  for (const t of TRAINERS) {
    for (const w of ['12', ' 12', '+3', '-1', '2_000', '1.0', '1e3', '0x10', '', 'twelve', '１２']) add(t, '--ctx_len', w);
    for (const w of ['1e-5', '-1e-5', '-.5', '-0.5', '5.', '.5', 'inf', '-Infinity', 'nan', '1_0.5', 'abc', '', '1e', '--1']) add(t, '--lr_init', w);
    add(t, '--lr_init=-1e-5');
    add(t, '--warmup_steps', '-1');
    add(t, '--warmup_steps', '-x');
    add(t, '--proj_dir', '-');
    add(t, '--proj_dir', '-a b');
    add(t, '--proj_dir', '--');
    add(t, '--ctx_len', '1', '--ctx_len=2');
    add(t, '--ctx_len', '1', '2');
    add(t, '--ctx_len');
    add(t, '--ctx_len', '--n_layer', '2');
    add(t, '--n_layer=');
    add(t, '--n_layer==3');
    add(t, '--no_such_flag', '1');
    add(t, '-n_layer', '2');
    add(t, '--help');
    add(t, '--', '--n_layer', '2');
    add(t, 'stray');
  }
  for (const t of ['peft', 'peft-legacy'] as const) {
    add(t, '--train_parts');
    add(t, '--train_parts', '[]');
    add(t, '--train_parts', 'time', 'ln', '--n_layer', '2');
    add(t, '--train_parts=time', 'ln');
    add(t, '--train_parts', 'time', '--train_parts', 'ln');
    add(t, '--sft_field');
    add(t, '--sft_field', 'query', 'response');
    add(t, '--fla', '--n_layer', '2');
    add(t, '--fla=1');
    add(t, '--fla', '1');
    add(t, '--head_size', '64');
    add(t, '--head_size_a', '64');
    add(t, '--micro', '2', '--epoch_step', '800');
    add(t, '--h', '1');
    add(t, '--he', '1');
    add(t, '--hel');
    add(t, '--lo', 'x');
    add(t, '--random_seed', '-1');
  }
  add('lm-v7', '--head_size', '64');
  add('lm-v7', '--max', '3');
  add('lm-v7', '--max_e', '3');
  add('lm-v7', '--grad_c', '1');
  add('lm-v7', '--micro', '2', '--epoch_step', '800');
  add('peft', '--optim', 'adamw');
  add('peft', '--quant', 'fp8');
  add('peft-legacy', '--quant', '4bit');
  add('peft', '--strategy', 'ddp_find_unused_parameters_true');
  return cases;
}
