// Every user-visible string of the extension has a Chinese translation, and the manifest's
// %keys% exist in both package.nls files.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => { const p = join(dir, n); return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : []; });
}

test('each vscode.l10n.t string is in the zh-cn bundle', () => {
  const bundle = JSON.parse(readFileSync('extension/l10n/bundle.l10n.zh-cn.json', 'utf8')) as Record<string, string>;
  const used = new Set<string>();
  for (const file of sources('extension/src')) {
    for (const m of readFileSync(file, 'utf8').matchAll(/l10n\.t\(\s*'((?:[^'\\]|\\.)*)'/g)) used.add(m[1].replace(/\\'/g, "'"));
  }
  assert.ok(used.size > 20);
  const missing = [...used].filter((s) => !(s in bundle));
  assert.deepEqual(missing, []);
  for (const [en, zh] of Object.entries(bundle)) {
    const placeholders = (s: string) => (s.match(/\{\d\}/g) ?? []).sort().join();
    assert.equal(placeholders(zh), placeholders(en), `placeholders of "${en}"`);
  }
});

test('package.json %keys% exist in package.nls.json and package.nls.zh-cn.json', () => {
  const manifest = readFileSync('package.json', 'utf8');
  const keys = [...manifest.matchAll(/"%([\w.]+)%"/g)].map((m) => m[1]);
  assert.ok(keys.length > 20);
  for (const file of ['package.nls.json', 'package.nls.zh-cn.json']) {
    const nls = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
    assert.deepEqual(keys.filter((k) => !(k in nls)), [], file);
    assert.deepEqual(Object.keys(nls).filter((k) => !keys.includes(k)), [], `${file} has no unused keys`);
  }
});
