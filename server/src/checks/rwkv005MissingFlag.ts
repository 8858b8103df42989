// RWKV005: flags the chosen mode needs but the run leaves at a default that cannot work.
import { ok, type FactsSnapshot } from '../facts/snapshot';
import { sizeFromFileName, sizeVersion } from '../model/modelSizes';
import { effective } from '../parse/resolve';
import { argText, findArg, type TrainRun } from '../parse/trainConfig';
import { methodFlag, methodOf } from './peftSettings';
import type { Check, Finding } from './types';
import { runHead } from './util';

interface Need { flag: string; why: string }

/** The flags a run needs for its mode but does not give (RWKV026 leaves engine refusals about these to this check). */
export function needs(run: TrainRun): Need[] {
  const out: Need[] = [];
  const v = (n: string): unknown => effective(run, n).value;
  const has = (n: string): boolean => !!findArg(run, n);
  const dataType = String(v('data_type'));
  if (!has('data_file') && dataType !== 'dummy') out.push({ flag: 'data_file', why: 'there is no training data' });
  if (['binidx', 'jsonl', 'sft'].includes(dataType) && !has('vocab_size')) out.push({ flag: 'vocab_size', why: `the default 0 (auto) only works for character-level .txt data; ${dataType} data needs 65536` });
  if (dataType === 'sft' && !has('sft_field')) out.push({ flag: 'sft_field', why: 'SFT data needs the fields to train on' });
  if (run.trainer === 'lm-v7') {
    const stage = Number(v('train_stage'));
    if (stage >= 2 && dataType === 'binidx') {
      if (!has('magic_prime')) out.push({ flag: 'magic_prime', why: 'pretraining on binidx data samples with it (make_data.py prints it)' });
      if (!has('my_exit_tokens')) out.push({ flag: 'my_exit_tokens', why: 'pretraining stops after this many tokens (make_data.py prints it)' });
    }
    return out;
  }
  // fine-tuning starts from a model; without --peft and --load_model RWKV-PEFT pretrains from fresh weights
  const method = methodOf(run);
  if (!has('load_model')) {
    if (method !== 'none') out.push({ flag: 'load_model', why: `${methodFlag(run)} fine-tunes a base model` });
  } else {
    if (!has('n_layer')) out.push({ flag: 'n_layer', why: 'the default 6 matches no released model' });
    if (!has('n_embd')) out.push({ flag: 'n_embd', why: 'the default 512 matches no released model' });
  }
  if (!has('my_testing')) out.push({ flag: 'my_testing', why: 'the default x052 builds an RWKV-5 model; RWKV-7 models need x070' });
  return out;
}

export const check: Check = {
  code: 'RWKV005',
  name: 'missing-flag',
  docs: {
    what: 'Flags a run needs for its mode but leaves out, so train.py would use a default that cannot work (n_layer 6, my_testing x052, vocab_size 0, no magic_prime for pretraining). When the call ended a line early (a line without its trailing \\, so bash runs the next flag line as a command) it says that instead, and whether `set -e` then stops the script there.',
    why: 'The run fails when loading the checkpoint or, worse, trains a model of the wrong shape.',
    example: 'python train.py --load_model rwkv7-g1-1.5b.pth --data_file data/x --data_type binidx',
    fix: 'Add the named flags (quick fix: adds those whose value is known from the checkpoint or its file name, and vocab_size 65536).',
  },
  checkRun({ run, facts, runIndex }) {
    // `--n_layer<NBSP>24` is there, glued to its value: RWKV001 names the character, once
    const list = needs(run).filter((n) => !run.args.some((a) => a.lookalikes && a.name.startsWith(n.flag)));
    if (run.endedEarly) {
      // one cause, one finding: the flags are in the file, below the line where bash ended the call
      const e = run.endedEarly;
      const missing = list.length ? `; train.py therefore misses ${list.map((n) => `--${n.flag}`).join(', ')}` : '';
      return [{
        code: 'RWKV005', severity: 'error', span: runHead(run),
        message: `The train.py command ends at line ${e.line + 1}: that line has no trailing \\, so bash runs line ${e.line + 2} (${e.nextText} ...) as a separate command ("command not found") and its flags never reach train.py${missing}.${e.exits ? ' The script has set -e, so that failure stops it there: no command after it runs, the train.py calls below included.' : ''}`,
        related: [{ span: e.next, message: 'bash runs this line as its own command' }],
        fixes: [{ title: `Add \\ at the end of line ${e.line + 1}`, preferred: true, edits: [{ span: { start: run.span.end, end: run.span.end }, newText: ' \\' }] }],
      }];
    }
    if (!list.length) return [];
    // `python train.py ... "$@"`: the flags may come when the script is run
    const open = run.openArgs?.length ? [...new Set(run.openArgs.map((w) => (/^\$\{?[@*]\}?$/.test(w.text) ? `"${w.text}"` : w.text)))].join(', ') : undefined;
    const f: Finding = {
      code: 'RWKV005',
      severity: open ? 'info' : 'error',
      message: `Missing ${list.map((n) => `--${n.flag} (${n.why})`).join('; ')}${open ? `, unless ${open} gives ${list.length > 1 ? 'them' : 'it'} when the script runs` : ''}.`,
      span: runHead(run),
    };
    // values we can vouch for: the checkpoint's (or its file name's) shape and version, World vocab
    const known = knownValues(run, facts, runIndex);
    const add = list.filter((n) => known[n.flag] !== undefined).map((n) => ` --${n.flag} ${known[n.flag]}`).join('');
    if (add && run.launcher !== 'config') f.fixes = [{ title: `Add${add}`, edits: [{ span: { start: run.span.end, end: run.span.end }, newText: add }] }];
    return [f];
  },
};

function knownValues(run: TrainRun, facts: FactsSnapshot, runIndex: number): Record<string, string> {
  const out: Record<string, string> = { vocab_size: '65536' };
  const ck = ok(facts.runs[runIndex]?.checkpoint);
  const size = sizeFromFileName(argText(run, 'load_model') ?? '', sizeVersion(argText(run, 'my_testing')));
  if (ck && !ck.isAdapter) {
    out.n_layer = String(ck.nLayer);
    out.n_embd = String(ck.nEmbd);
    if (ck.version !== 'unknown') out.my_testing = ck.version;
    out.vocab_size = String(ck.vocabSize || 65536);
  } else if (size) {
    out.n_layer = String(size.nLayer);
    out.n_embd = String(size.nEmbd);
  }
  if (!out.my_testing && /rwkv7|x070/i.test(argText(run, 'load_model') ?? '')) out.my_testing = 'x070';
  if (!out.my_testing && /rwkv6|x060/i.test(argText(run, 'load_model') ?? '')) out.my_testing = 'x060';
  return out;
}
