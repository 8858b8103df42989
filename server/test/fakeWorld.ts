// A fake machine for tests: Facts and a FileProbe answering from fixtures/world.json. The memory
// plan here is a stand-in formula (the real estimate is the engine planner's, behind the addon):
// it only has to grow with the run's size so RWKV021 can be exercised.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CheckpointFacts, DatasetFacts, Facts, FlagValues, GpuFacts, RunCheck } from '../src/facts/facts';
import type { FileProbe } from '../src/facts/gather';
import type { PathKind } from '../src/facts/snapshot';

interface World {
  cwd: string;
  files: string[];
  dirs: string[];
  checkpoints: Record<string, Omit<CheckpointFacts, 'tensors'>>;
  datasets: Record<string, DatasetFacts>;
  gpus: GpuFacts[];
}

export const FIXTURES = join(__dirname, 'fixtures');
export const world: World = JSON.parse(readFileSync(join(FIXTURES, 'world.json'), 'utf8')) as World;

/**
 * What the fake engine says about a run (checkRun): a few of the real engine's rules, in its words
 * (the real rules are engine/train/gpu_support.cpp, train_options.cpp and peft_options.cpp,
 * tested through the addon in engine/tests/addon_facts_test.cpp and
 * server/test/engineSupport.test.ts, which also compares these answers with the addon's). Tests
 * may replace `answer`.
 */
export function fakeEngineRules(argv: string[]): RunCheck {
  // the last occurrence, as argparse keeps it
  const flag = (name: string): string | undefined => { const i = argv.lastIndexOf(`--${name}`); return i >= 0 ? argv[i + 1] : undefined; };
  // DiSHA's "bat" structure (older RWKV-PEFT) and MiSS's bat/mini variants (newest): not trained
  for (const name of ['disha_config', 'miss_config']) {
    if (jsonOf(flag(name))?.mode === 'bat') return { ok: false, code: 'E_FLAG_UNSUPPORTED', message: 'DiSHA mode "bat" is not supported by this engine', hint: 'use mode "bone" (MiSS), which this engine trains', flag: name };
  }
  const missInit = flag('peft') === 'miss' ? jsonOf(flag('peft_config'))?.init_weights : undefined;
  if (missInit !== undefined && missInit !== 'true' && missInit !== true)
    return { ok: false, code: 'E_FLAG_UNSUPPORTED', message: `MiSS init_weights "${String(missInit)}" (bat/mini variants) is not supported by this engine`, hint: 'the balance variant (init_weights true) is implemented', flag: 'peft_config' };
  const quant = flag('quant');
  if (quant && !['none', 'int8', 'nf4'].includes(quant)) return { ok: false, code: 'E_FLAG_UNSUPPORTED', message: `--quant ${quant} is not supported by this engine`, hint: 'use --quant int8 or --quant nf4 (bitsandbytes\' formats, as RWKV-PEFT quantises), or none', flag: 'quant' };
  if (flag('my_testing') === 'x060' && (flag('accelerator') ?? 'gpu') !== 'cpu')
    return { ok: false, code: 'E_CUDA_UNSUPPORTED', message: 'RWKV-6 (x060) training is not yet implemented on the GPU: the CUDA backend has no WKV6 kernel yet', hint: 'train this RWKV-6 model with --accelerator cpu (every PEFT method runs there), or on the GPU with RWKV-PEFT (github.com/JL-er/RWKV-PEFT, --my_testing x060)', flag: 'my_testing' };
  const headSizeFlag = flag('head_size') !== undefined ? 'head_size' : 'head_size_a';
  const headSize = Number(flag(headSizeFlag) ?? 64);
  if ((flag('accelerator') ?? 'gpu') !== 'cpu' && headSize !== 64)
    return { ok: false, code: 'E_CUDA_UNSUPPORTED', message: `head size ${headSize} (the GPU WKV7 kernel is built for 64) is not yet implemented on the GPU`, hint: 'use --accelerator cpu for this model', flag: headSizeFlag };
  return { ok: true, warnings: [] };
}
function jsonOf(text: string | undefined): Record<string, unknown> | undefined {
  try { const v: unknown = text === undefined ? undefined : JSON.parse(text); return v && typeof v === 'object' ? (v as Record<string, unknown>) : undefined; } catch { return undefined; }
}

export const fakeEngine: { answer: (argv: string[]) => RunCheck } = { answer: fakeEngineRules };

export function fakeFiles(): FileProbe {
  const files = new Set(world.files);
  const dirs = new Set(world.dirs);
  return { kind: async (p: string): Promise<PathKind> => (files.has(p) ? 'file' : dirs.has(p) ? 'dir' : 'missing') };
}

export function fakePlanBytes(f: FlagValues): number {
  const n = (k: string, d: number): number => (typeof f[k] === 'number' ? (f[k] as number) : Number(f[k] ?? d) || d);
  return 2e9 + 0.5e9 * n('micro_bsz', 12) * (n('ctx_len', 1024) / 1024) * (n('n_embd', 512) / 2048) * (n('n_layer', 6) / 24) * (n('grad_cp', 0) ? 1 : 3);
}

export function fakeFacts(): Facts & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async inspectCheckpoint(path) {
      calls.push(`inspectCheckpoint ${path}`);
      const c = world.checkpoints[path];
      if (!c) throw new Error(`not a PyTorch checkpoint: ${path}`);
      return { ...c, tensors: [] };
    },
    async inspectDataset(prefix, ctxLen) {
      calls.push(`inspectDataset ${prefix} ${ctxLen}`);
      const d = world.datasets[prefix];
      if (!d) throw new Error(`cannot read ${prefix}.idx`);
      return d;
    },
    async listGpus() { calls.push('listGpus'); return { gpus: world.gpus }; },
    async checkRun(argv) {
      calls.push('checkRun');
      return fakeEngine.answer(argv);
    },
    async previewDataset(path) { calls.push(`previewDataset ${path}`); throw new Error('no preview in the fake world'); },
    async planSchedule(argv) {
      calls.push('planSchedule');
      // the older RWKV-PEFT's epochs (the real rules: engine/train/epoch_plan.h, addon tests)
      const flag = (name: string, dflt: number): number => { const i = argv.indexOf(`--${name}`); return i >= 0 ? Number(argv[i + 1]) : dflt; };
      const [steps, count, bsz, ctx, acc] = [flag('epoch_steps', 1000), flag('epoch_count', 500), flag('micro_bsz', 12), flag('ctx_len', 1024), flag('accumulate_grad_batches', 1)];
      return {
        totalSteps: (steps / acc) * count, tokensPerStep: ctx * bsz * acc, totalTokens: steps * bsz * ctx * count, untilStopped: false,
        epochCount: count, microBsz: bsz, ctxLen: ctx, accumulate: acc,
        epoch: { onePass: false, pool: steps * bsz, microBatches: steps, lastBatchRows: bsz, optimizerSteps: steps / acc }, documentsKnown: true,
      };
    },
    async planMemory(flags) {
      calls.push('planMemory');
      const total = fakePlanBytes(flags);
      return { totalBytes: total, byCategory: { weights: total * 0.4, activations: total * 0.6 } };
    },
  };
}
