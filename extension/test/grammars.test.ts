// Tokenizes with vscode-textmate (the engine VS Code uses) to check the injection grammar and
// the log grammar. The host grammars (source.shell, source.json) are small stand-ins with the
// scopes of VS Code's own, so the test needs no VS Code.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import * as oniguruma from 'vscode-oniguruma';
import { INITIAL, parseRawGrammar, Registry, type IGrammar } from 'vscode-textmate';

const require = createRequire(import.meta.url);
const wasm = readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm'));
const onigLib = oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength) as ArrayBuffer)
  .then(() => ({ createOnigScanner: (p: string[]) => new oniguruma.OnigScanner(p), createOnigString: (s: string) => new oniguruma.OnigString(s) }));

const shellStandIn = { scopeName: 'source.shell', patterns: [
  { match: '#.*$', name: 'comment.line.number-sign.shell' },
  { begin: "'", end: "'", name: 'string.quoted.single.shell' },
  { begin: '"', end: '"', name: 'string.quoted.double.shell', patterns: [{ match: '\\\\.', name: 'constant.character.escape.shell' }] },
] };
const jsonStandIn = { scopeName: 'source.json', patterns: [
  { match: '"[^"]*"(?=\\s*:)', name: 'support.type.property-name.json' },
  { match: '"[^"]*"', name: 'string.quoted.double.json' },
  { match: '-?\\d+(?:\\.\\d+)?(?:[eE][-+]?\\d+)?', name: 'constant.numeric.json' },
  { match: '\\b(?:true|false|null)\\b', name: 'constant.language.json' },
  { match: '[{}\\[\\]:,]', name: 'punctuation.json' },
] };

// VS Code's own shell and JSON grammars, where a cached code-server (test/e2e/tools.mjs) has them.
const vscodeExtensions = join(process.env.RWKV_E2E_CACHE ?? join(homedir(), '.cache', 'rwkv-studio-e2e'), 'code-server-4.100.3', 'node_modules', 'code-server', 'lib', 'vscode', 'extensions');
const realShell = join(vscodeExtensions, 'shellscript', 'syntaxes', 'shell-unix-bash.tmLanguage.json');
const realJson = join(vscodeExtensions, 'json', 'syntaxes', 'JSON.tmLanguage.json');
const haveReal = existsSync(realShell) && existsSync(realJson);

const files: Record<string, string> = {
  'rwkv.peft-config.injection': 'syntaxes/peft-config.injection.tmLanguage.json',
  'text.log.rwkv-train': 'syntaxes/rwkv-train-log.tmLanguage.json',
};
const makeRegistry = (real: boolean) => new Registry({
  onigLib,
  loadGrammar: async (scope) => {
    if (scope === 'source.shell') return real ? parseRawGrammar(readFileSync(realShell, 'utf8'), realShell) : parseRawGrammar(JSON.stringify(shellStandIn), 'shell.json');
    if (scope === 'source.json') return real ? parseRawGrammar(readFileSync(realJson, 'utf8'), realJson) : parseRawGrammar(JSON.stringify(jsonStandIn), 'json.json');
    const file = files[scope];
    return file ? parseRawGrammar(readFileSync(file, 'utf8'), file) : null;
  },
  getInjections: (scope) => (scope === 'source.shell' ? ['rwkv.peft-config.injection'] : undefined),
});
const registry = makeRegistry(false);

function tokens(grammar: IGrammar, line: string): { text: string; scopes: string[] }[] {
  return grammar.tokenizeLine(line, INITIAL).tokens.map((t) => ({ text: line.slice(t.startIndex, t.endIndex), scopes: t.scopes }));
}
function scopeOf(toks: { text: string; scopes: string[] }[], text: string): string[] {
  const t = toks.find((x) => x.text === text);
  assert.ok(t, `no token "${text}" in ${JSON.stringify(toks.map((x) => x.text))}`);
  return t.scopes;
}

test('JSON inside --peft_config \'...\' is tokenized as embedded JSON', async () => {
  const shell = (await registry.loadGrammar('source.shell'))!;
  const toks = tokens(shell, `python train.py --peft lora --peft_config '{"r":64,"alpha":128,"dropout":0.01}' --ctx_len 512`);
  assert.ok(scopeOf(toks, '--peft_config ').includes('variable.parameter.flag.rwkv'));
  const r = scopeOf(toks, '"r"');
  assert.ok(r.includes('meta.embedded.block.json.rwkv') && r.includes('support.type.property-name.json'), r.join(' '));
  assert.ok(scopeOf(toks, '64').includes('constant.numeric.json'));
  assert.ok(scopeOf(toks, '0.01').includes('meta.embedded.block.json.rwkv'));
  // after the closing quote, plain shell again
  assert.ok(!toks.find((t) => t.text.includes('--ctx_len'))!.scopes.includes('meta.embedded.block.json.rwkv'));
});

test('the older flags (=, lora_config, pissa_config, disha_config) are covered, comments are not', async () => {
  const shell = (await registry.loadGrammar('source.shell'))!;
  for (const flag of ['lora_config', 'pissa_config', 'disha_config', 'miss_config']) {
    const toks = tokens(shell, `--${flag}='{"lora_r":8}'`);
    assert.ok(scopeOf(toks, '8').includes('meta.embedded.block.json.rwkv'), flag);
  }
  const commented = tokens(shell, `# --peft_config '{"r":8}'`);
  assert.ok(commented.every((t) => !t.scopes.includes('meta.embedded.block.json.rwkv')));
  const assigned = tokens(shell, `peft_config='{"r":8,"lora_alpha":32}'`);
  assert.ok(scopeOf(assigned, '32').includes('constant.numeric.json'), 'a shell variable assignment');
  const other = tokens(shell, `--data_file '{"r":8}'`);
  assert.ok(other.every((t) => !t.scopes.includes('meta.embedded.block.json.rwkv')));
});

test('double-quoted JSON with shell escapes is marked as JSON', async () => {
  const shell = (await registry.loadGrammar('source.shell'))!;
  const toks = tokens(shell, `--peft_config "{\\"r\\":16}"`);
  assert.ok(scopeOf(toks, '16').includes('constant.numeric.json'));
  assert.ok(scopeOf(toks, '\\"r\\"').includes('support.type.property-name.json'));
});

test('the engine log grammar marks errors, steps, metrics and extension notes', async () => {
  const log = (await registry.loadGrammar('text.log.rwkv-train'))!;
  assert.ok(tokens(log, 'error: cannot open data/x.bin')[0].scopes.includes('invalid.illegal.error.rwkv-log'));
  assert.ok(tokens(log, 'warning: lr_final > lr_init')[0].scopes.some((s) => s.startsWith('markup.changed')));
  const step = tokens(log, 'step 120/1000 loss 2.345 lr 1e-4');
  assert.ok(scopeOf(step, '120').includes('constant.numeric.rwkv-log'));
  assert.ok(scopeOf(step, 'loss').includes('variable.other.metric.rwkv-log'));
  assert.ok(scopeOf(step, '2.345').includes('constant.numeric.rwkv-log'));
  assert.ok(scopeOf(tokens(log, '[rwkv] following out/loss_data.jsonl'), '[rwkv]').includes('keyword.other.rwkv-log'));
  assert.ok(tokens(log, 'saved out/rwkv-3.pth').some((t) => t.text === 'out/rwkv-3.pth' && t.scopes.includes('string.unquoted.path.rwkv-log')));
});

test('with VS Code\'s own shell and JSON grammars, the peft_config JSON is embedded JSON', { skip: haveReal ? false : 'no cached code-server with VS Code grammars' }, async () => {
  const shell = (await makeRegistry(true).loadGrammar('source.shell'))!;
  let state = INITIAL;
  const lines = [`peft_config='{"r":8,"lora_alpha":32}'`, `python train.py --peft lora --peft_config '{"r":64,"alpha":128}' \\`, `  --ctx_len 512`];
  const all = lines.map((line) => { const r = shell.tokenizeLine(line, state); state = r.ruleStack; return r.tokens.map((t) => ({ text: line.slice(t.startIndex, t.endIndex), scopes: t.scopes })); });
  assert.ok(scopeOf(all[0], '32').some((s) => s.startsWith('constant.numeric')), JSON.stringify(all[0]));
  assert.ok(scopeOf(all[1], "64").includes("meta.embedded.block.json.rwkv"), JSON.stringify(all[1].map((t) => [t.text, t.scopes.slice(1).join(" ")])));
  assert.ok(scopeOf(all[1], '64').some((s) => s.startsWith('constant.numeric')));
  assert.ok(all[2].every((t) => !t.scopes.includes('meta.embedded.block.json.rwkv')), 'the next line is shell again');
});
