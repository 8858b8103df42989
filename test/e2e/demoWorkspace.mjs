// Makes the demo model and data that test/e2e/workspace/demo.sh trains, with the real engine:
// a small generated corpus (arithmetic lines a tiny model visibly learns) -> `rwkv-train
// make-data` -> DIR/demo/data.{bin,idx}, and the initial weights -> DIR/demo/model.pth via
// `rwkv-train init`. Returns undefined when done, else why not (the caller prints SKIP).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function writeDemoCorpus(path, lines = 2000) {
  let seed = 12345;
  const rnd = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
  const out = [];
  for (let i = 0; i < lines; i++) {
    const a = rnd(50), b = rnd(50);
    out.push(JSON.stringify({ text: `${a}+${b}=${a + b}\n${b}+${a}=${a + b}` }));
  }
  writeFileSync(path, out.join('\n') + '\n');
}

export function prepareDemo(engine, workspace) {
  const demo = join(workspace, 'demo');
  mkdirSync(demo, { recursive: true });
  const run = (args) => spawnSync(engine, args, { cwd: workspace, encoding: 'utf8', timeout: 180_000 });
  writeDemoCorpus(join(demo, 'corpus.jsonl'));
  const data = run(['make-data', 'demo/corpus.jsonl', 'demo/data', '--ctx_len', '64', '--epochs', '4', '--seed', '1']);
  if (data.status !== 0 || !existsSync(join(demo, 'data.bin'))) return `rwkv-train make-data failed (exit ${data.status}): ${(data.stderr || data.stdout || '').slice(-300)}`;
  const init = run(['init', '--n_layer', '2', '--n_embd', '64', '--vocab_size', '65536', '--out', 'demo/model.pth']);
  if (init.status !== 0 || !existsSync(join(demo, 'model.pth'))) return `rwkv-train init failed (exit ${init.status}): ${(init.stderr || init.stdout || '').slice(-300)}`;
  return undefined;
}
