// Diagnostics in the client's language: every code's messages have Chinese forms (messagesZh.ts),
// a zh-cn client gets them (with flag names, numbers and paths as in the English), and an English
// client gets the checks' own text byte for byte.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { CHECKS } from '../../src/checks';
import type { Finding } from '../../src/checks/types';
import { toCodeAction, toDiagnostic } from '../../src/lsp/convert';
import { ZH_MESSAGES, zhMessage } from '../../src/lsp/messagesZh';
import { findingsFor } from '../fixtureHarness';
import { FIXTURES } from '../fakeWorld';
import { ensureBuilt, LspClient } from './lspClient';

const CJK = /[\u4e00-\u9fff]/;

async function fixtureFindings(): Promise<{ doc: TextDocument; findings: Finding[] }[]> {
  const out: { doc: TextDocument; findings: Finding[] }[] = [];
  for (const code of readdirSync(join(FIXTURES, 'checks'))) {
    for (const f of readdirSync(join(FIXTURES, 'checks', code))) {
      if (f.endsWith('.expected')) continue;
      const path = join(FIXTURES, 'checks', code, f);
      const { text, findings } = await findingsFor(path);
      out.push({ doc: TextDocument.create(pathToFileURL(path).href, 'shellscript', 1, text), findings });
    }
  }
  return out;
}

test('every diagnostic code has Chinese messages', () => {
  for (const c of CHECKS) assert.ok(ZH_MESSAGES[c.code]?.length, `${c.code} has no Chinese entry`);
});

test('each check fixture\'s own code is reported in Chinese, with its flag names and numbers', async () => {
  const translated = new Set<string>();
  let all = 0;
  let zh = 0;
  for (const { doc, findings } of await fixtureFindings()) {
    for (const f of findings) {
      all++;
      const m = toDiagnostic(doc, f, 'zh').message as string;
      if (m === f.message) continue; // untranslated forms stay English
      zh++;
      translated.add(f.code);
      assert.match(m, CJK, m);
      // the parameters are carried over as they are
      for (const flag of f.message.match(/--[a-z_]+/g) ?? []) assert.ok(m.includes(flag), `${flag} kept in: ${m}`);
      for (const n of f.message.match(/\b\d{3,}\b/g) ?? []) assert.ok(m.includes(n), `${n} kept in: ${m}`);
    }
  }
  for (const c of CHECKS) if (c.code !== 'RWKV022') assert.ok(translated.has(c.code), `no ${c.code} fixture finding is in Chinese`);
  assert.ok(zh > all * 0.8, `${zh} of ${all} fixture findings in Chinese`);
  console.log(`${zh} of ${all} fixture findings in Chinese`);
});

test('English diagnostics and quick-fix titles are the checks\' text byte for byte', async () => {
  for (const { doc, findings } of await fixtureFindings()) {
    for (const f of findings) {
      const d = toDiagnostic(doc, f);
      assert.equal(d.message, f.message);
      assert.deepEqual(toDiagnostic(doc, f, 'en'), d);
      for (const [i, r] of (f.related ?? []).entries()) assert.equal(d.relatedInformation![i]!.message, r.message);
      for (const x of f.fixes ?? []) assert.equal(toCodeAction(doc, x, d).title, x.title);
    }
  }
  // an unknown form falls back to English
  assert.equal(zhMessage('RWKV001', 'Something new.'), 'Something new.');
});

test('a zh-cn client gets Chinese diagnostics and quick fixes over stdio', async () => {
  ensureBuilt();
  const client = new LspClient();
  try {
    await client.initialize('zh-cn');
    const uri = pathToFileURL(join(FIXTURES, 'sample-zh.sh')).href;
    const text = 'python train.py --n_layers 24 --precision bf61 --ctx_len 1k --peft lora --peft_config \'{"r":8,"lora_alpha":64}\'\n';
    const got = client.diagnostics(uri);
    await client.open(uri, 'shellscript', text, 1);
    const { diagnostics } = await got;
    const by = (code: string) => diagnostics.filter((d) => d.code === code).map((d) => d.message as string);
    assert.ok(by('RWKV001').includes('未知参数 --n_layers；是否想写 --n_layer？'), JSON.stringify(by('RWKV001')));
    assert.ok(by('RWKV002').includes('"bf61" 不是 --precision 的可选值；可选值为：bf16, fp16, tf32, fp32。是否想写 bf16？'), JSON.stringify(by('RWKV002')));
    assert.ok(by('RWKV002').includes('--ctx_len 需要整数，"1k" 不是整数（argparse: invalid int value）。'));
    assert.ok(by('RWKV013').some((m) => m.startsWith('lora_alpha 64 是 r 8 的 8 倍')), JSON.stringify(by('RWKV013')));
    const unknown = diagnostics.find((d) => d.code === 'RWKV001' && (d.message as string).includes('n_layers'))!;
    const actions = await client.request('textDocument/codeAction', { textDocument: { uri }, range: unknown.range, context: { diagnostics: [unknown] } }) as { title: string }[];
    assert.ok(actions.some((a) => a.title === '重命名为 --n_layer'), JSON.stringify(actions.map((a) => a.title)));
  } finally {
    await client.close();
  }
});
