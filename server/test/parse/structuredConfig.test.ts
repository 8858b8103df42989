// Training configs in YAML/JSON: the supported shapes (README "Training YAML"), positions kept.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDocument } from '../../src/parse/parseDocument';
import { findArg } from '../../src/parse/trainConfig';
import { trainerReason } from '../../src/parse/trainer';

test('a flat mapping of flags, with -- keys and a structured peft_config', () => {
  const text = 'load_model: m.pth\n--n_layer: 24\nn_embd: "2048"\npeft: lora\npeft_config:\n  r: 8\n  lora_alpha: 16\ntrain_parts: [time, ln]\n';
  const c = parseDocument(text, 'yaml', 'x.yaml');
  assert.equal(c.runs.length, 1);
  const run = c.runs[0]!;
  assert.equal(findArg(run, 'n_layer')!.value!.text, '24');
  assert.equal(text.slice(findArg(run, 'n_layer')!.nameSpan.start, findArg(run, 'n_layer')!.nameSpan.end), 'n_layer');
  const embd = findArg(run, 'n_embd')!.value!;
  assert.equal(text.slice(embd.span.start, embd.span.end), '"2048"');
  const pc = findArg(run, 'peft_config')!.value!.structured!;
  assert.deepEqual(pc.entries.map((e) => [e.key, e.value, text.slice(e.keySpan.start, e.keySpan.end)]), [['r', 8, 'r'], ['lora_alpha', 16, 'lora_alpha']]);
  assert.deepEqual(findArg(run, 'train_parts')!.values!.map((v) => v.text), ['time', 'ln']);
  assert.equal(run.trainer, 'peft');
});

test('flags under args:, a declared trainer, and several runs under runs:', () => {
  const a = parseDocument('trainer: lm-v7\nargs:\n  n_layer: 12\n  n_embd: 768\n', 'yaml', 'a.yaml');
  assert.equal(a.runs[0]!.trainer, 'lm-v7');
  assert.equal(trainerReason(a.runs[0]!.trainerEvidence), 'declared as lm-v7');
  const b = parseDocument('runs:\n  - n_layer: 12\n    n_embd: 768\n  - n_layer: 24\n    n_embd: 1024\n', 'yaml', 'b.yaml');
  assert.deepEqual(b.runs.map((r) => findArg(r, 'n_layer')!.value!.text), ['12', '24']);
  assert.equal(b.runs[1]!.line, 3);
});

test('YAML that is not a training config is left alone', () => {
  const c = parseDocument('name: CI\non: [push]\njobs:\n  build:\n    runs-on: ubuntu\n', 'yaml', '.github/workflows/ci.yml');
  assert.equal(c.runs.length, 0);
  assert.equal(c.problems.length, 0);
});

test('a peft_config .json file and a flags .json file', () => {
  const p = parseDocument('{"r": 64, "lora_alpha": 128}', 'json', 'file:///w/lora_config.json');
  assert.equal(p.kind, 'peft-json');
  assert.equal(p.peftMethod, 'lora');
  assert.deepEqual(p.peft!.entries.map((e) => e.key), ['r', 'lora_alpha']);
  const f = parseDocument('{"n_layer": 24, "n_embd": 2048, "load_model": "m.pth"}', 'json', 'file:///w/train.json');
  assert.equal(f.runs.length, 1);
  const other = parseDocument('{"name": "rwkv-studio", "version": "1.0.0"}', 'json', 'file:///w/package.json');
  assert.equal(other.runs.length, 0);
  const bad = parseDocument('{"r": 64, "lora_alpha": ', 'json', 'file:///w/peft_config.json');
  assert.ok(bad.problems.some((x) => /Invalid JSON/.test(x.message)));
});

test('binary content and huge files are reported, not parsed at length', () => {
  const bin = parseDocument('\u0000\u0001PK\u0003\u0004'.repeat(100), 'shell', 'x.sh');
  assert.match(bin.problems[0]!.message, /binary/);
  const huge = parseDocument('python train.py --n_layer 1\n'.repeat(100000), 'shell', 'x.sh');
  assert.ok(huge.problems.some((x) => /only its first/.test(x.message)));
  assert.ok(huge.runs.length > 0 && huge.runs.length < 100000);
});

test('CRLF line endings and a byte-order mark parse like the plain script', () => {
  const plain = "n_layer=24\npython train.py --n_layer $n_layer \\\n  --n_embd 2048 # comment\n";
  const windows = '\uFEFF' + plain.replace(/\n/g, '\r\n');
  for (const text of [plain, windows]) {
    const c = parseDocument(text, 'shell', 'x.sh');
    assert.equal(c.runs.length, 1);
    assert.equal(findArg(c.runs[0]!, 'n_layer')!.value!.text, '24');
    assert.equal(findArg(c.runs[0]!, 'n_embd')!.value!.text, '2048');
    assert.deepEqual(c.runs[0]!.strays, []);
  }
});
