// RWKV026 with the real engine addon (dist/bin/rwkv_studio.node): the diagnostic carries the
// engine's own answer, so the editor says what Run Training would say. Skipped, saying why,
// where the addon is not built.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runChecks } from '../src/checks';
import { createAddonFacts } from '../src/facts/addonFacts';
import type { Facts } from '../src/facts/facts';
import { gatherFacts } from '../src/facts/gather';
import { kindOf, parseDocument } from '../src/parse/parseDocument';
import { fakeEngineRules, fakeFiles, world } from './fakeWorld';

let facts: Facts | undefined, why = '';
try { facts = createAddonFacts(); } catch (e) { why = (e as Error).message.split('\n')[0]!; }

async function engineNotes(script: string): Promise<string[]> {
  const config = parseDocument(script, kindOf('', 'x.sh'), 'x.sh');
  const snapshot = await gatherFacts(config, { cwd: world.cwd, facts: facts!, files: fakeFiles() });
  return runChecks(config, snapshot, new Set(['RWKV026'])).map((f) => `${f.severity} ${f.message}`);
}

const RUN = 'python train.py --n_layer 24 --n_embd 2048 --vocab_size 65536 --data_file d --data_type binidx --ctx_len 512';

test('RWKV026 through the real addon: what the GPU engine cannot split, RWKV-6 (CPU only for now), and every method on the GPU, quantised too', async (t) => {
  if (!facts) { t.skip(`engine addon not available: ${why}`); return; }
  const [ctx] = await engineNotes(`${RUN.replace('--ctx_len 512', '--ctx_len 500')} --peft miss --peft_config '{"r":64}' --accelerator gpu\n`);
  assert.match(ctx!, /^info Run Training's GPU engine cannot run this as written: ctx_len 500 \(the GPU WKV7 kernel needs a multiple of 16\) is not yet implemented on the GPU\. .*--accelerator cpu/);
  assert.deepEqual(await engineNotes(`${RUN} --peft lora --peft_config '{"r":8}' --quant nf4 --accelerator gpu\n`), [], 'the GPU dequantises');
  const [x060] = await engineNotes(`${RUN} --peft lora --peft_config '{"r":8}' --my_testing x060 --accelerator gpu\n`);
  assert.match(x060!, /RWKV-6 \(x060\) training is not yet implemented on the GPU: .*--accelerator cpu/);
  assert.deepEqual(await engineNotes(`${RUN} --peft lora --peft_config '{"r":8}' --quant nf4 --accelerator cpu\n`), [], 'the CPU quantises');
  const [fp4] = await engineNotes(`${RUN} --peft lora --peft_config '{"r":8}' --quant fp4 --accelerator cpu\n`);
  assert.match(fp4!, /--quant fp4 is not supported by this engine/);
  assert.deepEqual(await engineNotes(`${RUN} --peft miss --peft_config '{"r":64}' --accelerator gpu --grad_cp 1\n`), [], 'MiSS runs on the GPU');
  assert.deepEqual(await engineNotes(`${RUN} --peft state --accelerator gpu\n`), [], 'state tuning runs on the GPU');
  assert.deepEqual(await engineNotes(`${RUN} --peft lora --lora_config '{"lora_load":"","lora_r":32,"lora_alpha":32,"lora_dropout":0.01}' --accelerator gpu\n`), [], 'LoRA dropout runs on the GPU');
  assert.deepEqual(await engineNotes(`${RUN} --train_type infctx --chunk_ctx 256 --accelerator gpu\n`), [], 'infctx runs on the GPU');
  assert.deepEqual(await engineNotes(`${RUN} --peft pissa --pissa_config '{"pissa_r":32,"svd_niter":4}' --accelerator gpu --grad_cp 1\n`), [], 'PiSSA runs on the GPU');
});

test('the real addon names the flag each refusal is about, as the fake engine does', async (t) => {
  if (!facts) { t.skip(`engine addon not available: ${why}`); return; }
  const base = ['--n_layer', '24', '--n_embd', '2048', '--vocab_size', '65536', '--data_file', 'd', '--data_type', 'binidx', '--accelerator', 'gpu'];
  const flagOf = async (extra: string[]): Promise<string | undefined> => { const r = await facts!.checkRun([...base, ...extra]); return r.ok ? undefined : r.flag; };
  assert.equal(await flagOf(['--ctx_len', '500']), 'ctx_len');
  assert.equal(await flagOf(['--head_size_a', '32']), 'head_size_a');
  assert.equal(await flagOf(['--train_type', 'infctx', '--ctx_len', '512', '--chunk_ctx', '250']), 'chunk_ctx');
  assert.equal(await flagOf(['--quant', 'fp4']), 'quant');
  assert.equal(await flagOf(['--my_testing', 'x060']), 'my_testing');
  for (const argv of [['--ctx_len', '500'], ['--head_size_a', '32'], ['--quant', 'fp4'], ['--my_testing', 'x060']]) {
    const fake = fakeEngineRules([...base, ...argv]);
    const real = await facts.checkRun([...base, ...argv]);
    if (!fake.ok && !real.ok && fake.code === real.code) assert.equal(fake.flag, real.flag, argv.join(' '));
  }
});

test("the fake engine's rules answer as the real addon does (the fixtures lean on them)", async (t) => {
  if (!facts) { t.skip(`engine addon not available: ${why}`); return; }
  const base = ['--load_model', 'm.pth', '--n_layer', '24', '--n_embd', '2048', '--vocab_size', '65536', '--data_file', 'd', '--data_type', 'binidx', '--my_testing', 'x070'];
  const lora = ['--peft', 'lora', '--lora_config', '{"lora_load":"","lora_r":8,"lora_alpha":16,"lora_dropout":0.01}'];
  const cases: string[][] = [
    ['--peft', 'disha', '--disha_config', '{"mode":"bat","load":"","r":64}'],
    ['--peft', 'disha', '--disha_config', '{"mode":"bone","load":"","r":64}'],
    ['--peft', 'miss', '--miss_config', '{"mode":"bat","load":"","r":64}'],
    ['--peft', 'miss', '--peft_config', '{"r":64,"init_weights":"bat"}'],
    ['--peft', 'miss', '--peft_config', '{"r":64,"init_weights":true}'],
    [...lora, '--epoch_steps', '1001', '--accumulate_grad_batches', '4'],
    [...lora, '--accumulate_grad_batches', '3'],
    [...lora, '--epoch_steps', '999', '--accumulate_grad_batches', '3'],
    ['--peft', 'lora', '--peft_config', '{"r":8}', '--accumulate_grad_batches', '3'],
    ['--peft', 'lora', '--peft_config', '{"r":8}', '--quant', 'nf4'],
    ['--peft', 'lora', '--peft_config', '{"r":8}', '--head_size_a', '32'],
    ['--peft', 'lora', '--peft_config', '{"r":8}', '--my_testing', 'x060'],
  ];
  for (const extra of cases) {
    const argv = [...base, ...extra];
    const fake = fakeEngineRules(argv);
    const real = await facts.checkRun(argv);
    const shape = (r: typeof fake) => (r.ok ? { ok: true } : { ok: false, code: r.code, message: r.message, hint: r.hint, flag: r.flag });
    assert.deepEqual(shape(fake), shape(real), extra.join(' '));
  }
});

test('RWKV026 through the real addon: DiSHA bat, epochs that end on a short step (no note), and the defaults a refusal rests on', async (t) => {
  if (!facts) { t.skip(`engine addon not available: ${why}`); return; }
  const [bat] = await engineNotes(`${RUN} --peft disha --disha_config '{"mode":"bat","load":"","r":64}' --accelerator gpu\n`);
  assert.match(bat!, /^info Run Training \(the bundled engine\) cannot run this as written: DiSHA mode "bat" is not supported by this engine\. Use mode "bone"/);
  const lora = `--peft lora --lora_config '{"lora_load":"","lora_r":8,"lora_alpha":16,"lora_dropout":0.01}' --accelerator gpu`;
  // an epoch that is not a multiple of accumulate_grad_batches ends on a short step, as Lightning runs it
  assert.deepEqual(await engineNotes(`${RUN} ${lora} --epoch_steps 1001 --accumulate_grad_batches 4\n`), [], 'a short last step');
  assert.deepEqual(await engineNotes(`${RUN} ${lora} --accumulate_grad_batches 3\n`), [], 'the default 1000 with 3');
  assert.deepEqual(await engineNotes(`${RUN} --peft lora --peft_config '{"r":8}' --accumulate_grad_batches 3\n`), [], "the newest tree's one-pass epochs step on their last micro-batch");
  const [gpu] = await engineNotes(`${RUN} --peft lora --peft_config '{"r":8}' --my_testing x060\n`);
  assert.match(gpu!, /\(--accelerator is not in the script, so train\.py's default gpu applies\)/);
  // RUN's --vocab_size 65536 then 0: argparse keeps the last
  assert.deepEqual(await engineNotes(`${RUN} --peft lora --peft_config '{"r":8}' --vocab_size 0\n`), [], 'a zero vocab_size is not an engine limit');
});
