// Hover and completion in-process with fake facts (the stdio tests run without the engine addon):
// checkpoint facts, dataset facts and the memory plan appear in hover; the zh docs are used.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { FactsCache } from '../../src/facts/cache';
import { Analyzer } from '../../src/lsp/analysis';
import { completeAt, resolveCompletion } from '../../src/lsp/completion';
import { hoverAt } from '../../src/lsp/hover';
import { resolveRuns } from '../../src/lsp/resolveRuns';
import { fakeFacts, fakeFiles } from '../fakeWorld';

const SCRIPT = [
  "load_model='/home/rwkv/models/rwkv7-g1a3-1.5b.pth'",
  'n_layer=24',
  'python train.py --load_model $load_model --n_layer $n_layer --n_embd 2048 --my_testing x070 \\',
  '  --data_file /home/rwkv/RWKV-PEFT/data/demo --data_type binidx --vocab_size 65536 --ctx_len 512 --micro_bsz 4 \\',
  "  --peft miss --peft_config '{\"r\":64}' --lr_init 2e-5 --lr_final 2e-5",
  '',
].join('\n');

async function analyse(text: string, languageId = 'shellscript', uri = 'file:///home/rwkv/RWKV-PEFT/scripts/miss.sh') {
  const files = fakeFiles();
  const cache = new FactsCache(fakeFacts(), 5000, (p) => files.kind(p));
  const published: number[] = [];
  const analyzer = new Analyzer(cache, (a) => published.push(a.findings.length));
  const doc = TextDocument.create(uri, languageId, 1, text);
  const a = await analyzer.update(doc);
  return { a, doc, published };
}

const md = (h: ReturnType<typeof hoverAt>): string => (h && typeof h.contents === 'object' && 'value' in h.contents ? h.contents.value : '');

test('hover on load_model shows the checkpoint, on micro_bsz the memory plan, in English and Chinese', async () => {
  const { a, doc } = await analyse(SCRIPT);
  const on = (needle: string): number => doc.getText().indexOf(needle) + 3;
  const load = md(hoverAt(a, on('--load_model'), 'en'));
  assert.match(load, /Checkpoint: x070, 24 layers × 2048, vocab 65536/);
  assert.match(load, /Effective value: `\/home\/rwkv\/models\/rwkv7-g1a3-1\.5b\.pth` — from `\$load_model` \(line 1\)/);
  assert.match(md(hoverAt(a, on('--micro_bsz'), 'en')), /Estimated GPU memory: \d+\.\d\d GB/);
  assert.match(md(hoverAt(a, on('--data_file'), 'en')), /Dataset: 12,345,678 tokens/);
  const zh = md(hoverAt(a, on('--load_model'), 'zh-CN'));
  assert.match(zh, /基底模型权重文件/);
  assert.match(zh, /权重文件: x070, 24 层 × 2048/);
  assert.match(md(hoverAt(a, SCRIPT.indexOf('"r"') + 1, 'en')), /\*\*r\*\* · --peft miss · int/);
});

test('a Chinese hover is Chinese around the code: where a variable was set, why the trainer, memory, dataset', async () => {
  const { a, doc } = await analyse(SCRIPT);
  const on = (needle: string): number => doc.getText().indexOf(needle) + 3;
  const zh = (needle: string): string => md(hoverAt(a, on(needle), 'zh-CN'));
  assert.match(zh('--load_model'), /实际取值: `\/home\/rwkv\/models\/rwkv7-g1a3-1\.5b\.pth` — 来自 `\$load_model`（第 1 行）/);
  assert.match(zh('--n_layer'), /来自 `\$n_layer`（第 2 行）/);
  assert.match(zh('--load_model'), /权重文件: x070, 24 层 × 2048, 词表 65536, 头大小 64/);
  assert.match(zh('--data_file'), /数据集: 12,345,678 个 token, [\d,]+ 个文档/);
  assert.match(zh('--micro_bsz'), /预计显存: \d+\.\d\d GB（(激活值|权重) \d+\.\d\d，/);
  assert.match(zh('python train.py'), /训练脚本: RWKV-PEFT\(新版\)（没有只属于其他 train\.py 的参数）|训练脚本: RWKV-PEFT\(新版\)（--\w+ 是新版 RWKV-PEFT 的参数）/);
  assert.match(zh('--my_testing'), /适用于: [^\n]*。原生引擎/);
  // every hover of the script: none of the English words hover adds around the docs
  const english = /\(line \d+\)|is a flag of|no flag that only|declared as|\d docs\b|vocab \d|head \d|not given|\(activations|\. Used by|\. Accepted/;
  for (let o = 0; o < SCRIPT.length; o++) {
    const text = md(hoverAt(a, o, 'zh-CN'));
    assert.doesNotMatch(text, english, `hover at ${o}: ${text}`);
  }
  // and the English hover keeps its words
  assert.match(md(hoverAt(a, on('python train.py'), 'en')), /Trainer: RWKV-PEFT \(newest\) \(--\w+ is a flag of the newest RWKV-PEFT\)|no flag that only another train\.py has/);
});

test('the second publish adds facts-based findings; resolveRuns reflects the script', async () => {
  const { a, published } = await analyse(SCRIPT.replace('n_layer=24', 'n_layer=12'));
  assert.equal(published.length, 2, 'published with cached facts, then with the checkpoint read');
  assert.ok(a.findings.some((f) => f.code === 'RWKV007'));
  const runs = resolveRuns(a).runs;
  assert.equal(runs[0]!.argv[1], '/home/rwkv/models/rwkv7-g1a3-1.5b.pth');
  assert.equal(runs[0]!.argv[3], '12');
  assert.ok(!runs[0]!.argv.includes('--adam_eps'), 'an RWKV-PEFT run keeps the engine defaults');
});

test("resolveRuns spells out RWKV-LM's own defaults that the engine does not share, unless given", async () => {
  const lm = 'python train.py --load_model "" --my_testing x070 --train_stage 3 --n_layer 12 --n_embd 768 --data_file d --data_type binidx\n';
  const { a } = await analyse(lm, 'shellscript', 'file:///home/rwkv/RWKV-LM/RWKV-v7/train_temp/demo.sh');
  const argv = resolveRuns(a).runs[0]!.argv;
  assert.equal(resolveRuns(a).runs[0]!.trainer, 'lm-v7');
  assert.equal(argv[argv.indexOf('--adam_eps') + 1], '1e-18');
  assert.equal(argv.filter((x) => x === '--my_testing').length, 1, 'a given flag is not repeated');
  const given = await analyse(lm.replace('--train_stage 3', '--train_stage 3 --adam_eps 1e-8'), 'shellscript', 'file:///tmp/lm.sh');
  const argv2 = resolveRuns(given.a).runs[0]!.argv;
  assert.equal(argv2.filter((x) => x === '--adam_eps').length, 1);
  assert.equal(argv2[argv2.indexOf('--adam_eps') + 1], '1e-8');
});

test('YAML completion: keys with presets, values, peft_config keys under the mapping', async () => {
  const text = 'n_layer: 24\nn_embd: 2048\nprecision: \npeft: lora\npeft_config:\n  lora_\nn_\n';
  const { a, doc } = await analyse(text, 'yaml', 'file:///tmp/train.yaml');
  const pos = (line: number, ch: number): number => doc.offsetAt({ line, character: ch });
  assert.deepEqual(completeAt(doc, a, pos(2, 11), 'en').map((i) => i.label), ['bf16', 'fp16', 'tf32', 'fp32']);
  const keys = completeAt(doc, a, pos(5, 7), 'en').map((i) => i.label);
  assert.ok(keys.includes('lora_alpha') && keys.includes('r'), keys.join(','));
  const top = completeAt(doc, a, pos(6, 2), 'zh');
  const nl = top.find((i) => i.label === 'n_layer')!;
  assert.match(JSON.stringify(resolveCompletion(nl).documentation), /模型层数/);
  assert.ok(top.some((i) => /n_layer: 24\\nn_embd: 2048/.test(JSON.stringify(i.textEdit))), 'preset fills both keys');
});

test('shell completion: an x060 script gets the RWKV-6 presets (1.6B 24/2048, 3B 32/2560, 7B 32/4096), an x070 one RWKV-7\'s', async () => {
  const text = 'n_\npython train.py --my_testing x060 --n_layer 24 --n_embd \n';
  const { a, doc } = await analyse(text, 'shellscript', 'file:///tmp/v6.sh');
  const presets = completeAt(doc, a, doc.offsetAt({ line: 0, character: 2 }), 'en').map((i) => [i.label, (i.textEdit as { newText: string }).newText]);
  assert.deepEqual(presets, [
    ['RWKV-6 1.6B (n_layer=24, n_embd=2048)', 'n_layer=24\nn_embd=2048'],
    ['RWKV-6 3B (n_layer=32, n_embd=2560)', 'n_layer=32\nn_embd=2560'],
    ['RWKV-6 7B (n_layer=32, n_embd=4096)', 'n_layer=32\nn_embd=4096'],
  ]);
  const embd = completeAt(doc, a, doc.offsetAt({ line: 1, character: 56 }), 'en');
  assert.deepEqual(embd.map((i) => [i.label, i.detail]), [['2048', '1.6B'], ['2560', '3B'], ['4096', '7B']]);
  const v7 = await analyse(text.replace('x060', 'x070'), 'shellscript', 'file:///tmp/v7.sh');
  const v7labels = completeAt(v7.doc, v7.a, 2, 'en').map((i) => i.label);
  assert.ok(v7labels.includes('RWKV-7 1.5B (n_layer=24, n_embd=2048)') && !v7labels.some((l) => l.startsWith('RWKV-6')));
});

test('shell completion: model-size presets for n_layer=/n_embd= lines, values for a variable that feeds a flag', async () => {
  const text = 'n_\nN_\nprec=b\npython train.py --precision $prec --n_layer 24\n';
  const { a, doc } = await analyse(text, 'shellscript', 'file:///tmp/x.sh');
  const at = (line: number, ch: number) => completeAt(doc, a, doc.offsetAt({ line, character: ch }), 'en');
  const lower = at(0, 2).find((i) => i.label.includes('1.5B'))!;
  assert.equal((lower.textEdit as { newText: string }).newText, 'n_layer=24\nn_embd=2048');
  const upper = at(1, 2).find((i) => i.label.includes('0.1B'))!;
  assert.equal((upper.textEdit as { newText: string }).newText, 'N_LAYER="12"\nN_EMBD="768"');
  assert.deepEqual(at(2, 6).map((i) => i.label), ['bf16', 'fp16', 'tf32', 'fp32']);
});
