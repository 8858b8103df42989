// Drives the real built server (node dist/server.js --stdio) with an LSP client: diagnostics,
// related information through variables, completion, hover in English and Chinese, quick fixes,
// rwkv/resolveRuns, and bad input (binary, 10 MB, unterminated quotes, invalid JSON).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, test } from 'node:test';
import type { CodeAction, CompletionItem, CompletionList, Hover } from 'vscode-languageserver-protocol';
import { ensureBuilt, LspClient } from './lspClient';

let ws: string;
let client: LspClient;
const uriOf = (rel: string): string => pathToFileURL(join(ws, rel)).href;
const items = (r: CompletionItem[] | CompletionList | null): CompletionItem[] => (Array.isArray(r) ? r : r?.items ?? []);

const SCRIPT = [
  'load_model=models/rwkv7-g1-1.5b-20250429-ctx4096.pth', // 0: the name says 1.5B, the file is missing
  'n_layer=32',                                            // 1
  'export CUDA_VISIBLE_DEVICES=1',                         // 2
  'python train.py --load_model $load_model --data_file data/demo.bin --data_type binidx \\', // 3
  '  --vocab_size 65536 --n_layers 24 --n_layer $n_layer --n_embd 2048 --my_testing x070 \\', // 4
  '  --precision bf16 --peft lora --peft_config \'{"r":8,"lora_alpha":16}\' --lr_init 1e-5 --lr_final 1e-5', // 5
  '',
].join('\n');

before(async () => {
  ensureBuilt();
  ws = mkdtempSync(join(tmpdir(), 'rwkv-lsp-'));
  writeFileSync(join(ws, 'train.py'), '# stand-in for RWKV-PEFT/train.py\n');
  mkdirSync(join(ws, 'scripts'));
  mkdirSync(join(ws, 'models'));
  mkdirSync(join(ws, 'data'));
  writeFileSync(join(ws, 'models', 'rwkv7-g1-0.4b-20250324-ctx4096.pth'), 'PK');
  writeFileSync(join(ws, 'data', 'demo.bin'), '');
  writeFileSync(join(ws, 'data', 'demo.idx'), '');
  writeFileSync(join(ws, 'data', 'chat.jsonl'), '{"text":"hi"}\n');
  client = new LspClient();
  await client.initialize('en', pathToFileURL(ws).href);
});

after(async () => {
  const code = await client.close();
  rmSync(ws, { recursive: true, force: true });
  assert.equal(code, 0, `server exit code (stderr: ${client.stderr.join('')})`);
});

test('diagnostics arrive with exact ranges, and a $variable value points at its assignment', async () => {
  const uri = uriOf('scripts/lora.sh');
  await client.open(uri, 'shellscript', SCRIPT);
  // the first publish uses cached facts; the file checks complete in a second one
  const { diagnostics } = await client.diagnosticsWhere(uri, (p) => p.version === 1 && p.diagnostics.some((d) => d.code === 'RWKV011'));
  const byCode = (c: string) => diagnostics.filter((d) => d.code === c);
  const unknown = byCode('RWKV001')[0]!;
  assert.match(String(unknown.message), /--n_layers; did you mean --n_layer\?/);
  assert.deepEqual(unknown.range, { start: { line: 4, character: 21 }, end: { line: 4, character: 31 } });
  const size = byCode('RWKV006')[0]!;
  assert.deepEqual(size.range, { start: { line: 1, character: 8 }, end: { line: 1, character: 10 } }, 'on "32" in n_layer=32');
  assert.equal(size.relatedInformation?.[0]?.location.range.start.line, 4, 'the use of $n_layer is related information');
  assert.ok(byCode('RWKV010').length === 1, 'data_file suffix');
  assert.ok(byCode("RWKV011").some((d) => /rwkv7-g1-1\.5b/.test(String(d.message))), 'missing model file');
  const info = byCode('RWKV022');
  assert.equal(info.length, 1, 'one message that facts are unavailable without the addon');
  assert.equal(info[0]!.severity, 3);
});

test('an edit re-publishes diagnostics for the new version', async () => {
  const uri = uriOf('scripts/lora.sh');
  const got = client.diagnostics(uri, 2);
  await client.change(uri, 2, SCRIPT.replace('--n_layers 24 ', '').replace('data/demo.bin', 'data/demo').replace('n_layer=32', 'n_layer=24'));
  const { diagnostics } = await got;
  assert.deepEqual(diagnostics.filter((d) => d.severity === 1).map((d) => d.code), []);
});

test('completion: flag names with docs, presets, enum values, paths, peft_config keys', async () => {
  const uri = uriOf('scripts/complete.sh');
  const text = 'python train.py --n_l\npython train.py --precision \npython train.py --load_model models/\npython train.py --data_file data/\npython train.py --peft lora --peft_config \'{"r":64, }\'\npython train.py --peft lora --peft_config \'{"r":8,"lo\n';
  const ready = client.diagnostics(uri, 1);
  await client.open(uri, 'shellscript', text);
  await ready;
  const at = async (line: number, character: number) => items(await client.request<CompletionItem[] | CompletionList>('textDocument/completion', { textDocument: { uri }, position: { line, character } }));
  const flags = await at(0, 21);
  const nLayer = flags.find((i) => i.label === '--n_layer');
  assert.ok(nLayer, 'offers --n_layer');
  const resolved = await client.request<CompletionItem>('completionItem/resolve', nLayer);
  assert.match(JSON.stringify(resolved.documentation), /Number of layers/);
  assert.ok(flags.some((i) => /RWKV-7 1\.5B \(n_layer 24, n_embd 2048\)/.test(i.label) && /--n_layer 24 --n_embd 2048/.test(JSON.stringify(i.textEdit))), 'model-size preset');
  assert.deepEqual((await at(1, 28)).map((i) => i.label), ['bf16', 'fp16', 'tf32', 'fp32']);
  assert.deepEqual((await at(2, 36)).map((i) => i.label), ['rwkv7-g1-0.4b-20250324-ctx4096.pth']);
  const data = (await at(3, 33)).map((i) => i.label).sort();
  assert.deepEqual(data, ['chat.jsonl', 'demo']);
  const keys = (await at(5, 52)).map((i) => i.label);
  assert.ok(keys.includes('lora_alpha') && keys.includes('lora_dropout'), `peft_config keys: ${keys.join(',')}`);
  // after the comma of '{"r":64, }': the keys not written yet, and never target_modules (RWKV012's error)
  const afterComma = (await at(4, 52)).map((i) => i.label);
  assert.ok(afterComma.includes('lora_alpha') && !afterComma.includes('r') && !afterComma.includes('target_modules'), afterComma.join(','));
});

test('hover shows the doc in the client language and the effective value through the variable', async () => {
  const uri = uriOf('scripts/lora.sh');
  const hover = await client.request<Hover>('textDocument/hover', { textDocument: { uri }, position: { line: 4, character: 38 } });
  const md = JSON.stringify(hover.contents);
  assert.match(md, /--n_layer/);
  assert.match(md, /Number of layers/);
  assert.match(md, /Effective value: `24`/);
  assert.match(md, /\$n_layer/);
  const zh = new LspClient();
  await zh.initialize('zh-cn');
  const zuri = uriOf('scripts/zh.sh');
  const ready = zh.diagnostics(zuri, 1);
  await zh.open(zuri, 'shellscript', 'python train.py --n_layer 24\n');
  await ready;
  const zhHover = await zh.request<Hover>('textDocument/hover', { textDocument: { uri: zuri }, position: { line: 0, character: 19 } });
  assert.match(JSON.stringify(zhHover.contents), /模型层数/);
  assert.equal(await zh.close(), 0);
});

test('quick fixes: did-you-mean rename and strip the .bin suffix', async () => {
  const uri = uriOf('scripts/fix.sh');
  const ready = client.diagnostics(uri, 1);
  await client.open(uri, 'shellscript', 'python train.py --load_model models/rwkv7-g1-0.4b-20250324-ctx4096.pth --n_layer 24 --n_embd 1024 --my_testing x070 --vocab_size 65536 --data_file data/demo.bin --data_type binidx --n_embdd 3\n');
  const { diagnostics } = await ready;
  const actions = await client.request<CodeAction[]>('textDocument/codeAction', { textDocument: { uri }, range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, context: { diagnostics } });
  const titles = actions.map((a) => a.title);
  assert.ok(titles.includes('Rename to --n_embd'), titles.join(' | '));
  const strip = actions.find((a) => a.title === 'Remove the .bin suffix')!;
  const edit = strip.edit!.changes![uri]![0]!;
  assert.equal(edit.newText, 'data/demo');
  assert.equal(edit.range.start.character, 'python train.py --load_model models/rwkv7-g1-0.4b-20250324-ctx4096.pth --n_layer 24 --n_embd 1024 --my_testing x070 --vocab_size 65536 --data_file '.length);
});

test('rwkv/resolveRuns gives argv, cwd (the folder with train.py) and exported env', async () => {
  const uri = uriOf('scripts/lora.sh');
  const r = await client.request<{ runs: { line: number; trainer: string; argv: string[]; cwd: string; env: Record<string, string> }[] }>('rwkv/resolveRuns', { uri });
  assert.equal(r.runs.length, 1);
  const run = r.runs[0]!;
  assert.equal(run.line, 3);
  assert.equal(run.trainer, 'peft');
  assert.equal(run.cwd, ws);
  assert.equal(run.env.CUDA_VISIBLE_DEVICES, '1');
  assert.deepEqual(run.argv.slice(0, 4), ['--load_model', 'models/rwkv7-g1-1.5b-20250429-ctx4096.pth', '--data_file', 'data/demo']);
  assert.ok(run.argv.includes('{"r":8,"lora_alpha":16}'));
});

test('bad input: binary, unterminated quote, invalid JSON and a 10 MB script answer quickly and the server lives on', async () => {
  const cases: [string, string, string][] = [
    ['bad/binary.sh', 'shellscript', 'python train.py \u0000\u0001\u0002 --n_layer \u0000'.repeat(1000)],
    ['bad/quote.sh', 'shellscript', "peft_config='{\"r\":64}\npython train.py --peft miss --peft_config $peft_config\n"],
    ['bad/peft_config.json', 'json', '{"r": 64, "lora_alpha": '],
    ['bad/train.yaml', 'yaml', 'n_layer: [24\nn_embd: 2048\nload_model: x.pth\n'],
  ];
  for (const [rel, lang, text] of cases) {
    const uri = uriOf(rel);
    const ready = client.diagnostics(uri, 1);
    await client.open(uri, lang, text);
    const { diagnostics } = await ready;
    assert.ok(diagnostics.length >= 1, `${rel}: a clear diagnostic`);
  }
  const big = Array.from({ length: 200 }, (_, i) => `python train.py --n_layer ${i} --n_embd 2048 --peft_config '{"r":${i}}' # line ${i}`).join('\n') + '\n';
  const tenMb = big.repeat(Math.ceil(10e6 / big.length));
  const uri = uriOf('bad/huge.sh');
  const t0 = Date.now();
  const ready = client.diagnostics(uri, 1, 30000);
  await client.open(uri, 'shellscript', tenMb);
  await ready;
  const ms = Date.now() - t0;
  assert.ok(ms < 15000, `10 MB script checked in ${ms} ms`);
  const hover = await client.request<Hover | null>('textDocument/hover', { textDocument: { uri: uriOf('scripts/lora.sh') }, position: { line: 4, character: 38 } });
  assert.ok(hover, 'server still answers');
});

test('in an untrusted workspace the server does not open checkpoints or datasets, and says so once', async () => {
  const restricted = new LspClient({ ...process.env }); // addon allowed: trust alone must turn facts off
  await restricted.initialize('en', pathToFileURL(ws).href, { workspaceTrusted: false, locale: 'en' });
  const uri = uriOf('scripts/untrusted.sh');
  await restricted.open(uri, 'shellscript', 'python train.py --load_model models/rwkv7-g1-0.4b-20250324-ctx4096.pth --n_layer 24 --n_embd 1024 --my_testing x070 --data_file data/demo --data_type binidx --vocab_size 65536\n');
  const { diagnostics } = await restricted.diagnosticsWhere(uri, (p) => p.diagnostics.some((d) => d.code === 'RWKV022'));
  const info = diagnostics.filter((d) => d.code === 'RWKV022');
  assert.equal(info.length, 1);
  assert.match(String(info[0]!.message), /not trusted/);
  assert.ok(!diagnostics.some((d) => d.code === 'RWKV025'), 'no verdict on files it did not open');
  assert.equal(await restricted.close(), 0);
});
