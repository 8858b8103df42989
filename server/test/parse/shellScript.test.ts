// The shell parser as users write training scripts: quoting, escapes, variables, export, line
// continuations, comments, launchers, env prefixes, several calls, inline JSON, source spans.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { spanOf } from '../../src/core/span';
import { parseShellScript } from '../../src/parse/shellScript';
import { findArg, type TrainRun } from '../../src/parse/trainConfig';

const one = (text: string): TrainRun => {
  const c = parseShellScript(text);
  assert.equal(c.runs.length, 1, `one run in: ${text}`);
  return c.runs[0]!;
};
const val = (run: TrainRun, name: string): string | undefined => findArg(run, name)?.value?.text;
const at = (text: string, s: { start: number; end: number }): string => text.slice(s.start, s.end);

test('quotes, escapes and expansion forms', () => {
  // (flag names no train.py has, and no prefix of one: argparse would expand --a to a real flag)
  const text = [
    `A=plain; B='single $A'; C="double $A \\"q\\" \\$A"; D=\${A}x`,
    `E=\${UNSET:-fallback} F=$'tab\\tx'`,
    `python train.py --zz_a $A --zz_b "$B" --zz_c "$C" --zz_d $D --zz_e $E --zz_f "$F" --zz_g a\\ b --zz_h '' --zz_i "x"'y'z`,
  ].join('\n');
  const run = one(text);
  assert.equal(val(run, 'zz_a'), 'plain');
  assert.equal(val(run, 'zz_b'), 'single $A');
  assert.equal(val(run, 'zz_c'), 'double plain "q" $A');
  assert.equal(val(run, 'zz_d'), 'plainx');
  assert.equal(val(run, 'zz_e'), 'fallback');
  assert.equal(val(run, 'zz_f'), 'tab\tx');
  assert.equal(val(run, 'zz_g'), 'a b');
  assert.equal(val(run, 'zz_h'), '');
  assert.equal(val(run, 'zz_i'), 'xyz');
});

test('line continuations, comments and several calls in one file', () => {
  const text = [
    '# comment with --fake_flag 1',
    'python train.py --n_layer 12 \\',
    '  --n_embd 768 # trailing comment --also_fake',
    'echo done',
    'python3 train.py --n_layer 24 \\',
    '',
  ].join('\n');
  const c = parseShellScript(text);
  assert.equal(c.runs.length, 2);
  assert.deepEqual(c.runs[0]!.args.map((a) => a.name), ['n_layer', 'n_embd']);
  assert.equal(c.runs[0]!.line, 1);
  assert.equal(c.runs[1]!.line, 4);
  assert.equal(val(c.runs[1]!, 'n_layer'), '24');
});

test('launchers: python, python3, torchrun, deepspeed, env prefixes, nohup, redirections', () => {
  const c = parseShellScript([
    'CUDA_VISIBLE_DEVICES=0,1 python -u train.py --devices 2 > log.txt 2>&1 &',
    'torchrun --nproc_per_node 2 train.py --devices 2',
    'deepspeed --num_gpus 2 ./train.py --devices 2 | tee log',
    'nohup /usr/bin/python3.10 train.py --devices 1 &',
    'env HF_HOME=/x python train.py --devices 1',
    'python other.py --devices 9',
  ].join('\n'));
  assert.deepEqual(c.runs.map((r) => r.launcher), ['python', 'torchrun', 'deepspeed', 'python', 'python']);
  assert.equal(c.runs[0]!.env.CUDA_VISIBLE_DEVICES, '0,1');
  assert.deepEqual(c.runs[0]!.strays, [], 'redirection targets are not arguments');
  assert.equal(c.runs[4]!.env.HF_HOME, '/x');
  assert.equal(c.runs[1]!.env.CUDA_VISIBLE_DEVICES, undefined, 'an env prefix applies to its own command only');
});

test('export, unset, cd', () => {
  const c = parseShellScript('export CUDA_VISIBLE_DEVICES=3\nX=1\nexport X\ncd ../RWKV-PEFT\npython train.py --a $X\nunset X\npython train.py --a "$X"\n');
  assert.equal(c.runs[0]!.env.CUDA_VISIBLE_DEVICES, '3');
  assert.equal(c.runs[0]!.env.X, '1');
  assert.equal(c.runs[0]!.cd, '../RWKV-PEFT');
  assert.ok(findArg(c.runs[1]!, 'a')!.value!.dynamic, 'an unset variable is unknown, not empty-and-checked');
});

test('a value from a variable reports at the assignment and keeps the use', () => {
  const text = 'n_layer=24\npython train.py --n_layer $n_layer\n';
  const v = findArg(one(text), 'n_layer')!.value!;
  assert.equal(at(text, v.span), '24');
  assert.equal(at(text, v.useSpan), '$n_layer');
  assert.deepEqual(v.via.map((u) => [u.name, at(text, u.useSpan), at(text, u.assignSpan!)]), [['n_layer', '$n_layer', '24']]);
});

test('nested variables map characters to their own assignments', () => {
  const text = 'N="12"\nD=768\nP="out/L"$N"-D"$D\npython train.py --proj_dir $P\n';
  const v = findArg(one(text), 'proj_dir')!.value!;
  assert.equal(v.text, 'out/L12-D768');
  assert.equal(at(text, spanOf(v, 5, 7)!), '12');
  assert.equal(at(text, spanOf(v, 9, 12)!), '768');
});

test('inline JSON: quoted, via a variable, and the escaped tutorial form keep positions', () => {
  const text = `pc='{"r":64}'\npython train.py --peft miss --peft_config $pc --lora_config '\\{"lora_r":8\\}'\n`;
  const run = one(text);
  const pc = findArg(run, 'peft_config')!.value!;
  assert.equal(pc.text, '{"r":64}');
  assert.equal(at(text, spanOf(pc, 1, 4)!), '"r"');
  assert.equal(val(run, 'lora_config'), '\\{"lora_r":8\\}', 'inside single quotes the backslashes stay (json.loads would see them)');
});

test('unquoted expansion is split on spaces like bash does', () => {
  const run = one(`pc='{"r": 64}'\npython train.py --peft_config $pc --x "$pc"\n`);
  assert.equal(val(run, 'peft_config'), '{"r":');
  assert.deepEqual(run.strays.map((s) => s.text), ['64}']);
  assert.equal(val(run, 'x'), '{"r": 64}');
});

test('switches, nargs lists and --name=value', () => {
  const run = one('python train.py --fla --train_parts time ln emb --ctx_len=512 --sft_field a b\n');
  assert.equal(findArg(run, 'fla')!.value, undefined);
  assert.deepEqual(findArg(run, 'train_parts')!.values!.map((v) => v.text), ['time', 'ln', 'emb']);
  assert.equal(val(run, 'ctx_len'), '512');
  assert.ok(findArg(run, 'ctx_len')!.inline);
  assert.deepEqual(findArg(run, 'sft_field')!.values!.map((v) => v.text), ['a', 'b']);
});

test('command substitution and positional parameters are unknown values, heredocs are skipped', () => {
  const c = parseShellScript('M=$(ls models | head -1)\ncat <<EOF\npython train.py --n_layer 1\nEOF\npython train.py --load_model $M --n_layer $1 --x `date`\n');
  assert.equal(c.runs.length, 1, 'the heredoc body is not a command');
  const run = c.runs[0]!;
  assert.ok(findArg(run, 'load_model')!.value!.dynamic);
  assert.ok(findArg(run, 'n_layer')!.value!.dynamic);
  assert.ok(findArg(run, 'x')!.value!.dynamic);
});

test('unterminated quotes are reported, not thrown', () => {
  const c = parseShellScript(`pc='{"r":64}\npython train.py --peft_config $pc\n`);
  assert.equal(c.problems.length, 1);
  assert.match(c.problems[0]!.message, /Unterminated single quote/);
  const d = parseShellScript('python train.py --x "abc\n');
  assert.match(d.problems[0]!.message, /Unterminated double quote/);
});

test('never throws and stays linear on random input', () => {
  let seed = 12345;
  const rnd = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const alphabet = ['python ', 'train.py ', '--n_layer ', '$', '{', '}', '(', ')', '"', "'", '\\', '\n', ' ', '=', 'x', '`', '#', '<<', '>', '|', '&', ';', '\u0000', '€', '${A:-', '$(('];
  for (let i = 0; i < 2000; i++) {
    let s = '';
    const n = Math.floor(rnd() * 80);
    for (let k = 0; k < n; k++) s += alphabet[Math.floor(rnd() * alphabet.length)];
    assert.doesNotThrow(() => parseShellScript(s), s);
  }
  const big = 'A="x"\npython train.py --n_layer $A --peft_config \'{"r":8}\'\n'.repeat(20000);
  const t0 = performance.now();
  const c = parseShellScript(big);
  assert.equal(c.runs.length, 20000);
  assert.ok(performance.now() - t0 < 5000, 'about 1 MB in well under 5 s');
});

test('set -e: the flag line bash runs as a command stops the script, unless tested, off, in a function body or a branch', () => {
  const CUT = 'python train.py --n_layer 24\n  --n_embd 2048\n';
  const AFTER = 'python train.py --n_layer 32 --n_embd 2560\n';
  const reading = (text: string): { exits: boolean | undefined; after: boolean | undefined } => {
    const c = parseShellScript(text);
    const cut = c.runs.find((r) => r.endedEarly)!;
    return { exits: cut.endedEarly!.exits, after: c.runs[c.runs.length - 1]!.unreachable };
  };
  for (const set of ['set -e', 'set -euo pipefail', 'set -ex', 'set -o errexit', 'set -u -e']) {
    assert.deepEqual(reading(`${set}\n${CUT}${AFTER}`), { exits: true, after: true }, set);
  }
  // a plain { } group runs where it stands, so its failure stops the script too
  assert.deepEqual(reading(`set -e\n{ ${CUT}; }\n${AFTER}`), { exits: true, after: true });
  assert.deepEqual(reading(`${CUT}${AFTER}`), { exits: undefined, after: undefined }, 'no set -e');
  assert.deepEqual(reading(`set -e\nset +e\n${CUT}${AFTER}`), { exits: undefined, after: undefined }, 'set +e');
  assert.deepEqual(reading(`set -e\nset +o errexit\n${CUT}${AFTER}`), { exits: undefined, after: undefined }, 'set +o errexit');
  assert.deepEqual(reading(`set -e\n${CUT.trimEnd()} || echo failed\n${AFTER}`), { exits: undefined, after: undefined }, 'a tested failure');
  assert.deepEqual(reading(`set -e\n${CUT.trimEnd()} | tee log\n${AFTER}`), { exits: undefined, after: undefined }, 'piped, no pipefail: the pipeline is tee');
  assert.deepEqual(reading(`set -e\nrun() {\n${CUT}}\n${AFTER}`), { exits: undefined, after: undefined }, 'a function body runs only when called');
  assert.deepEqual(reading(`set -e\nfunction run {\n${CUT}}\n${AFTER}`), { exits: undefined, after: undefined }, 'function name { ... }');
  // inside an if, whether bash takes the branch is not known here: no conclusion either way
  assert.deepEqual(reading(`set -e\nif [ -n "$X" ]; then\n${CUT}fi\n${AFTER}`), { exits: undefined, after: undefined }, 'in a branch');
  assert.deepEqual(reading(`if [ -n "$X" ]; then set -e; fi\n${CUT}${AFTER}`), { exits: undefined, after: undefined }, 'set -e in a branch');
  // the set -- form sets positional parameters, not options
  assert.deepEqual(reading(`set -- -e\n${CUT}${AFTER}`), { exits: undefined, after: undefined }, 'set -- -e');
});
