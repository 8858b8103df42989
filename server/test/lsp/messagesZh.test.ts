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

/**
 * English left in a Chinese message once the parts that stay as they are in either language are
 * taken out: flag names, $variables, paths, quoted values, argparse's and Python's own error text
 * (what the user will see in the terminal), and names (RWKV-PEFT, Run Training, GPU models).
 * Three English words in a row are a sentence that was not translated.
 */
function englishLeft(zh: string): string | undefined {
  const rest = zh
    .replace(/[（(]argparse: [^）)]*[）)]/g, ' ')
    .replace(/TypeError: [^）]*/g, ' ')
    .replace(/"[^"]*"|'[^']*'/g, ' ')
    .replace(/--[\w-]+|\$\w+|\/\S*/g, ' ')
    .replace(/NVIDIA [^，）]+|Lightning Trainer|RWKV Studio|Run Training/g, ' ');
  return /[A-Za-z][\w.'-]*(?: +[A-Za-z][\w.'-]*){2,}/.exec(rest)?.[0];
}

/**
 * Fixture findings whose Chinese keeps English on purpose: the YAML library's own error text
 * (structuredConfig.ts passes it on; its forms are the library's, in a Chinese frame here).
 */
const ENGLISH_KEPT: { file: string; code: string; why: string }[] = [
  { file: 'RWKV000/broken.yaml', code: 'RWKV000', why: "the yaml package's parser message" },
];

test('every check fixture finding is reported in Chinese, with its flag names and numbers', async () => {
  let all = 0;
  const kept: string[] = [];
  for (const { doc, findings } of await fixtureFindings()) {
    const file = doc.uri.split('/checks/')[1]!;
    for (const f of findings) {
      all++;
      const d = toDiagnostic(doc, f, 'zh');
      const m = d.message as string;
      assert.notEqual(m, f.message, `no Chinese for ${f.code} in ${file}: ${f.message}`);
      assert.match(m, CJK, m);
      // the parameters are carried over as they are
      for (const flag of f.message.match(/--[a-z_]+/g) ?? []) assert.ok(m.includes(flag), `${flag} kept in: ${m}`);
      for (const n of f.message.match(/\b\d{3,}\b/g) ?? []) assert.ok(m.includes(n), `${n} kept in: ${m}`);
      const left = englishLeft(m);
      if (left && ENGLISH_KEPT.some((k) => k.file === file && k.code === f.code)) { kept.push(`${file} ${f.code}`); continue; }
      assert.equal(left, undefined, `English left ("${left}") in ${f.code} of ${file}: ${m}`);
      for (const r of d.relatedInformation ?? []) {
        assert.match(r.message, CJK, r.message);
        assert.equal(englishLeft(r.message), undefined, r.message);
      }
      for (const x of f.fixes ?? []) {
        const title = toCodeAction(doc, x, d, 'zh').title;
        assert.match(title, CJK, title);
        assert.equal(englishLeft(title), undefined, title);
      }
    }
  }
  assert.deepEqual(kept, ENGLISH_KEPT.map((k) => `${k.file} ${k.code}`), 'every listed exception still occurs');
  console.log(`${all} of ${all} fixture findings in Chinese (${kept.length} with the yaml library's text kept)`);
});

test('the engine\'s refusals quoted by RWKV026 are translated, hint and defaults included', () => {
  const m = zhMessage('RWKV026', "Run Training's GPU engine cannot run this as written: ctx_len 500 (the GPU WKV7 kernel needs a multiple of 16) is not yet implemented on the GPU. Choose a ctx_len that is a multiple of 16, or use --accelerator cpu. train.py itself accepts it.");
  assert.equal(m, 'Run Training 的 GPU 引擎无法按现有写法运行：GPU 上还不支持 ctx_len 500（GPU 的 WKV7 kernel 需要 16 的整数倍）。请把 ctx_len 设为 16 的整数倍，或使用 --accelerator cpu。train.py 本身接受这种写法。');
  const d = zhMessage('RWKV026', "Run Training (the bundled engine) cannot run this as written: --loss_mask se is not supported by this engine (--loss_mask is not in the script, so train.py's default se applies). Use --loss_mask qa for answer-only loss on User:/Assistant: text. train.py itself accepts it.");
  assert.equal(d, 'Run Training（内置引擎）无法按现有写法运行：本引擎不支持 --loss_mask se（脚本中没有 --loss_mask，因此使用 train.py 的默认值 se）。对 User:/Assistant: 文本只在回答上计算 loss，请用 --loss_mask qa。train.py 本身接受这种写法。');
  const q = zhMessage('RWKV026', 'Run Training (the bundled engine) cannot run this as written: --quant nf4 with full fine-tuning. A quantised base is frozen: train an adapter (--peft lora, pissa, miss or state tuning), or use --quant none. train.py itself accepts it.');
  assert.equal(q, 'Run Training（内置引擎）无法按现有写法运行：--quant nf4 与全量微调一起使用。量化的基底模型是冻结的：请训练适配器（--peft lora、pissa、miss 或 state tuning），或使用 --quant none。train.py 本身接受这种写法。');
  // an engine message this table does not know yet keeps the engine's English inside the Chinese frame
  const u = zhMessage('RWKV026', 'Run Training (the bundled engine) cannot run this as written: something new. train.py itself accepts it.');
  assert.equal(u, 'Run Training（内置引擎）无法按现有写法运行：something new。train.py 本身接受这种写法。');
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
