// The one flag table: schema, and completeness against the train.py files it was read from
// (compared with the fetched snapshots when they are on this machine).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { FLAGS, flagSpec } from './flagTable';

const TYPES = new Set(['int', 'float', 'string', 'bool01', 'path', 'json', 'switch']);
const TRAINERS = new Set(['peft', 'peft-legacy', 'lm-v7']);

test('every entry follows the schema in README.md', () => {
  const names = new Set<string>();
  for (const f of FLAGS) {
    assert.ok(!names.has(f.name), `duplicate ${f.name}`);
    names.add(f.name);
    assert.ok(TYPES.has(f.type), `${f.name}: type ${f.type}`);
    assert.ok(f.trainers.length > 0 && f.trainers.every((t) => TRAINERS.has(t)), `${f.name}: trainers`);
    assert.ok(f.engine === 'used' || f.engine === 'ignored', `${f.name}: engine`);
    assert.ok(f.doc.en.length > 10 && f.doc.zh.length > 3, `${f.name}: docs in both languages`);
    assert.ok(/[\u4e00-\u9fff]/.test(f.doc.zh), `${f.name}: the zh doc is Chinese`);
    if (f.values) assert.ok(f.values.every((v) => typeof v === 'string'), `${f.name}: values are strings`);
    if (f.type === 'int' && f.default !== null) assert.ok(Number.isInteger(f.default), `${f.name}: int default`);
    if (f.type === 'float') assert.equal(typeof f.default, 'number', `${f.name}: float default`);
    if (f.type === 'switch') assert.equal(f.default, false, `${f.name}: switch default`);
    if (f.type === 'json') assert.equal(typeof f.default, 'object', `${f.name}: json default is the parsed object`);
    if (f.deprecated) assert.ok(flagSpec(f.deprecated), `${f.name}: deprecated in favour of a known flag`);
  }
});

test('the engine uses the flags that shape the run and ignores Lightning/DeepSpeed-only ones', () => {
  for (const n of ['accelerator', 'devices', 'precision', 'grad_cp', 'n_layer', 'n_embd', 'ctx_len', 'micro_bsz', 'lr_init', 'peft', 'peft_config', 'load_model', 'data_file', 'num_nodes', 'train_stage', 'magic_prime']) assert.equal(flagSpec(n)?.engine, 'used', n);
  for (const n of ['strategy', 'wandb', 'ds_bucket_mb', 'enable_progress_bar', 'op']) assert.equal(flagSpec(n)?.engine, 'ignored', n);
  assert.equal(flagSpec('adam_eps')?.trainerDefaults?.['lm-v7'], 1e-18);
  assert.equal(flagSpec('my_testing')?.trainerDefaults?.['lm-v7'], 'x070');
});

const SOURCES: [string, string, string][] = [
  ['peft', '/work/.mirror/Joluck+RWKV-PEFT/repo', 'train.py'],
  ['peft-legacy', '/work/.mirror/JL-er+RWKV-PEFT/repo', 'train.py'],
  ['lm-v7', '/work/.mirror/BlinkDL+RWKV-LM/repo', 'RWKV-v7/train_temp/train.py'],
];

for (const [trainer, gitDir, path] of SOURCES) {
  test(`every add_argument of ${trainer}'s train.py is in the table for ${trainer}`, (t) => {
    if (!existsSync(gitDir)) { t.skip('snapshot not on this machine'); return; }
    const src = execFileSync('git', ['--git-dir', gitDir, 'show', `HEAD:${path}`], { encoding: 'utf8' });
    const declared = [...src.matchAll(/^\s*parser\.add_argument\(\s*"--([A-Za-z0-9_]+)"/gm)].map((m) => m[1]!);
    assert.ok(declared.length > 30, 'found the arguments');
    for (const name of declared) {
      const spec = flagSpec(name);
      assert.ok(spec, `--${name} missing from flags.json`);
      assert.ok(spec.trainers.includes(trainer as never), `--${name} is not marked for ${trainer}`);
    }
    const extra = FLAGS.filter((f) => f.trainers.includes(trainer as never) && !declared.includes(f.name)).map((f) => f.name);
    // lm-v7 also takes Lightning Trainer flags (add_argparse_args), which are not in its file
    if (trainer !== 'lm-v7') assert.deepEqual(extra, [], `flags marked ${trainer} that its train.py does not declare`);
  });
}
