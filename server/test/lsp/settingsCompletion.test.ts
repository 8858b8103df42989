// Completion inside PEFT settings JSON (`--peft_config '{"r":64, }'` and its other spellings): the
// keys the method takes that the object does not hold yet, never target_modules (RWKV012: the
// newest train.py passes it itself), the values of keys with a fixed set, and edits that leave
// JSON json.loads reads. Each case applies the first item's edit and reads the result back.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { CompletionItem, TextEdit } from 'vscode-languageserver/node';
import { FactsCache } from '../../src/facts/cache';
import { Analyzer, type Analysis } from '../../src/lsp/analysis';
import { completeAt } from '../../src/lsp/completion';
import { runChecks } from '../../src/checks/index';
import { parseDocument } from '../../src/parse/parseDocument';
import { emptySnapshot } from '../../src/facts/snapshot';
import { fakeFacts, fakeFiles } from '../fakeWorld';

const CURSOR = '‸';
const LORA_KEYS = ['lora_alpha', 'lora_dropout', 'bias', 'use_rslora', 'init_lora_weights', 'use_dora', 'modules_to_save'];

async function analyse(text: string, uri: string, languageId: string): Promise<{ doc: TextDocument; a: Analysis }> {
  const files = fakeFiles();
  const analyzer = new Analyzer(new FactsCache(fakeFacts(), 5000, (p) => files.kind(p)), () => {});
  const doc = TextDocument.create(uri, languageId, 1, text);
  return { doc, a: await analyzer.update(doc) };
}

/** Completion at the ‸ of `marked`; `pick` applies that item's edit. */
async function complete(marked: string, uri = 'file:///tmp/lora.sh', languageId = 'shellscript') {
  const offset = marked.indexOf(CURSOR);
  const { doc, a } = await analyse(marked.replace(CURSOR, ''), uri, languageId);
  const items = completeAt(doc, a, offset, 'en');
  const pick = (label: string): string => {
    const item = items.find((i) => i.label === label);
    assert.ok(item, `${label} is offered (got ${items.map((i) => i.label).join(', ')})`);
    return TextDocument.applyEdits(doc, [item.textEdit as TextEdit]);
  };
  return { labels: items.map((i) => i.label), items, pick, doc };
}

const call = (json: string, peft = 'lora'): string => `python train.py --my_testing x070 --peft ${peft} --peft_config ${json} --n_layer 24\n`;

test("after the comma in '{\"r\":64, }': the other LoRA keys, not r, not target_modules", async () => {
  const { labels, pick } = await complete(call(`'{"r":64, ${CURSOR}}'`));
  assert.deepEqual(labels, LORA_KEYS);
  assert.equal(pick('lora_alpha'), call(`'{"r":64, "lora_alpha":}'`));
});

test('a key the object holds anywhere is left out, and the method decides the key set', async () => {
  assert.deepEqual((await complete(call(`'{"lora_dropout":0.05, ${CURSOR} "r":64}'`))).labels, LORA_KEYS.filter((k) => k !== 'lora_dropout'));
  assert.deepEqual((await complete(call(`'{"r":64, ${CURSOR}}'`, 'miss'))).labels, ['mini_r', 'miss_dropout', 'init_weights', 'modules_to_save']);
  // the older form's flag has its own keys, all of which train.py reads
  assert.deepEqual((await complete(`python train.py --lora_config '{"lora_load":"", ${CURSOR}}'\n`)).labels, ['lora_r', 'lora_alpha', 'lora_dropout']);
});

test('target_modules is never offered where RWKV012 calls it an error', async () => {
  const withIt = call(`'{"r":64, "target_modules":["key"]}'`);
  const findings = runChecks(parseDocument(withIt, 'shell', 'a.sh'), emptySnapshot()).filter((f) => f.code === 'RWKV012');
  assert.match(findings.map((f) => f.message).join('\n'), /"target_modules" cannot be set/);
  for (const json of [`'{${CURSOR}}'`, `'{"r":64, "tar${CURSOR}}'`, `'{"r":64, ${CURSOR}'`]) {
    const { labels } = await complete(call(json));
    assert.ok(labels.length > 0 && !labels.includes('target_modules'), `${json}: ${labels.join(', ')}`);
  }
});

test('a partly typed key is replaced with the rest of it, and a written colon is kept', async () => {
  const typed = await complete(call(`'{"r":64, "lo${CURSOR}}'`));
  assert.equal(typed.pick('lora_dropout'), call(`'{"r":64, "lora_dropout":}'`));
  // VS Code filters on the replaced text, which starts with the quote
  assert.equal(typed.items.find((i) => i.label === 'lora_dropout')!.filterText, '"lora_dropout":');
  const editing = await complete(call(`'{"r":64, "lo${CURSOR}ra_alph": 128}'`));
  assert.equal(editing.pick('lora_alpha'), call(`'{"r":64, "lora_alpha": 128}'`));
  const unquoted = await complete(call(`'{"r":64, lo${CURSOR}}'`));
  assert.equal(unquoted.pick('lora_alpha'), call(`'{"r":64, "lora_alpha":}'`));
});

test('JSON over several lines, through a variable, and inside shell double quotes', async () => {
  const multi = `python train.py --my_testing x070 --peft lora --peft_config '{\n  "r": 64,\n  ${CURSOR}\n}'\n`;
  const m = await complete(multi);
  assert.deepEqual(m.labels, LORA_KEYS);
  assert.match(m.pick('lora_alpha'), /\n {2}"r": 64,\n {2}"lora_alpha":\n\}'/);
  const viaVariable = `peft_config='{"r":64, "lora_alpha":128, ${CURSOR}}'\npython train.py --my_testing x070 --peft lora --peft_config "$peft_config"\n`;
  assert.deepEqual((await complete(viaVariable)).labels, LORA_KEYS.slice(1));
  // inside "..." each JSON quote is written \" (and bash gives json.loads plain quotes)
  const dq = await complete(call(`"{\\"r\\":64, \\"lo${CURSOR}}"`));
  assert.equal(dq.pick('lora_alpha'), call(`"{\\"r\\":64, \\"lora_alpha\\":}"`));
});

test('values: a key with a fixed set offers it, booleans unquoted as peft takes them', async () => {
  const bias = await complete(call(`'{"r":64, "bias": ${CURSOR}}'`));
  assert.deepEqual(bias.labels, ['none', 'all', 'lora_only']);
  assert.equal(bias.pick('lora_only'), call(`'{"r":64, "bias": "lora_only"}'`));
  const init = await complete(call(`'{"r":64, "init_lora_weights":"pi${CURSOR}"}'`));
  assert.equal(init.pick('pissa'), call(`'{"r":64, "init_lora_weights":"pissa"}'`));
  assert.equal(init.pick('true'), call(`'{"r":64, "init_lora_weights":true}'`));
  assert.deepEqual((await complete(call(`'{"r":${CURSOR}}'`))).labels, [], 'an int has no fixed set');
});

test('no keys where a key cannot go: inside a nested object, after a value with no comma', async () => {
  assert.deepEqual((await complete(call(`'{"r":64, "rank_pattern": {"a": 1, ${CURSOR}}}'`))).labels, []);
  assert.deepEqual((await complete(call(`'{"r":64 ${CURSOR}}'`))).labels, []);
});

test('a standalone peft_config .json file: the keys its name says, less those it has', async () => {
  const { labels } = await complete(`{\n  "r": 64,\n  "lora_alpha": 128,\n  ${CURSOR}\n}\n`, 'file:///tmp/lora_config.json', 'json');
  assert.deepEqual(labels, LORA_KEYS.slice(1));
});

test('an analysis a version behind the text: offsets come from the text itself', async () => {
  const old = call(`'{"r":64}'`);
  const { a } = await analyse(old, 'file:///tmp/lora.sh', 'shellscript');
  const marked = call(`'{"r":64, ${CURSOR}}'`);
  const now = TextDocument.create('file:///tmp/lora.sh', 'shellscript', 2, marked.replace(CURSOR, ''));
  const items: CompletionItem[] = completeAt(now, a, marked.indexOf(CURSOR), 'en');
  assert.deepEqual(items.map((i) => i.label), LORA_KEYS);
  assert.equal(TextDocument.applyEdits(now, [items[0]!.textEdit as TextEdit]), call(`'{"r":64, "lora_alpha":}'`));
});

test('without an analysis (a settings variable no call uses yet) the line is read', async () => {
  const marked = `peft_config='{"r":64, ${CURSOR}}'\n`;
  const doc = TextDocument.create('file:///tmp/v.sh', 'shellscript', 1, marked.replace(CURSOR, ''));
  const labels = completeAt(doc, undefined, marked.indexOf(CURSOR), 'en').map((i) => i.label);
  assert.deepEqual(labels, LORA_KEYS);
});

test('a YAML peft_config mapping: the keys it does not hold yet', async () => {
  const { labels, pick } = await complete(`my_testing: x070\npeft: lora\npeft_config:\n  r: 64\n  lora_alpha: 128\n  ${CURSOR}\n`, 'file:///tmp/train.yaml', 'yaml');
  assert.deepEqual(labels, LORA_KEYS.slice(1));
  assert.match(pick('lora_dropout'), /\n {2}lora_alpha: 128\n {2}lora_dropout: \n/);
});
