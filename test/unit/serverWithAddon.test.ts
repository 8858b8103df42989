// The language server with the engine addon loaded, end to end over stdio: the checks that
// need facts (checkpoint shapes and vocab, the dataset's magic_prime, the memory plan against
// the GPU) fire from what the addon read in files PyTorch and make-data wrote, and through
// NVML (a fake libnvidia-ml here). The server's own suite runs with the addon off.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, test } from 'node:test';
import { ensureBuilt, LspClient, ROOT } from '../../server/test/lsp/lspClient';

const addonFile = join(ROOT, 'dist', 'bin', 'rwkv_studio.node');
const fakeNvml = join(ROOT, 'build', 'engine', 'tests', 'libfake_nvml.so');
const skip = !existsSync(addonFile) ? `${addonFile} not built` : !existsSync(fakeNvml) ? 'fake NVML not built' : false;

let ws: string;
let client: LspClient | undefined;

before(() => {
  if (skip) return;
  ensureBuilt();
  ws = mkdtempSync(join(tmpdir(), 'rwkv-addon-lsp-'));
  writeFileSync(join(ws, 'train.py'), '# stand-in for RWKV-LM/train.py\n');
  mkdirSync(join(ws, 'models'));
  mkdirSync(join(ws, 'data'));
  copyFileSync(join(ROOT, 'engine', 'tests', 'fixtures', 'torch', 'x070_L2_D128_V512.pth'), join(ws, 'models', 'rwkv-init.pth'));
  // 3 documents x 2000 tokens (binidx as make_data.py writes it): ctx_len 512 -> magic_prime 5.
  const docs = 3, len = 2000;
  writeFileSync(join(ws, 'data', 'demo.bin'), new Uint16Array(docs * len).fill(11));
  const head = Buffer.alloc(34);
  head.write('MMIDIDX\x00\x00', 0, 'latin1'); head.writeBigUInt64LE(1n, 9); head.writeUInt8(8, 17);
  head.writeBigUInt64LE(BigInt(docs), 18); head.writeBigUInt64LE(BigInt(docs + 1), 26);
  writeFileSync(join(ws, 'data', 'demo.idx'), Buffer.concat([head, Buffer.from(new Int32Array(docs).fill(len).buffer),
    Buffer.from(BigInt64Array.from([0n, 4000n, 8000n]).buffer), Buffer.from(BigInt64Array.from([0n, 1n, 2n, 3n]).buffer)]));
  const env: NodeJS.ProcessEnv = { ...process.env, RWKV_NVML_LIBRARY: fakeNvml };
  delete env.RWKV_STUDIO_NO_ADDON;
  client = new LspClient(env);
});

after(async () => {
  if (!client) return;
  const code = await client.close();
  rmSync(ws, { recursive: true, force: true });
  assert.equal(code, 0, `server exit code (stderr: ${client.stderr.join('')})`);
});

test('facts from the addon drive the checks: shapes, vocab, magic_prime, GPU memory', { skip }, async () => {
  await client!.initialize('en', pathToFileURL(ws).href);
  const uri = pathToFileURL(join(ws, 'pretrain.sh')).href;
  const script = [
    'export CUDA_VISIBLE_DEVICES=1',
    'python train.py --load_model models/rwkv-init.pth --proj_dir out --data_file data/demo --data_type binidx \\',
    '  --my_testing x070 --n_layer 4 --n_embd 128 --vocab_size 65536 --ctx_len 512 --micro_bsz 512 \\',
    '  --magic_prime 11 --my_exit_tokens 6000 --grad_cp 0 --precision bf16 --strategy deepspeed_stage_2 \\',
    '  --lr_init 6e-4 --lr_final 6e-5 --train_stage 3 --epoch_count 1 --epoch_begin 0 --accelerator gpu --devices 1',
    '',
  ].join('\n');
  await client!.open(uri, 'shellscript', script);
  const want = ['RWKV007', 'RWKV008', 'RWKV019', 'RWKV021'];
  const { diagnostics } = await client!.diagnosticsWhere(uri, (p) => want.every((c) => p.diagnostics.some((d) => d.code === c)), 15000)
    .catch((e: Error) => { throw new Error(`${e.message}; last: ${JSON.stringify(client!.latest.get(uri)?.diagnostics.map((d) => [d.code, d.message]))}`); });
  const msg = (c: string) => diagnostics.filter((d) => d.code === c).map((d) => String(d.message)).join(' | ');
  assert.match(msg('RWKV007'), /n_layer is 4, but the checkpoint has n_layer 2/);
  assert.match(msg('RWKV008'), /512/);
  assert.match(msg('RWKV019'), /should be 5 for 6000 tokens at ctx_len 512/);
  // The planner's reference estimate for 512 x 512 tokens is far above the fake RTX 4090 (GPU 1).
  assert.match(msg('RWKV021'), /RTX 4090/);
  assert.ok(!diagnostics.some((d) => d.code === 'RWKV022'), 'no "facts unavailable" with the addon loaded');
});
