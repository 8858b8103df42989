// What a train.py call's dataset preview opens: the data_file (a binidx prefix or the .jsonl) and
// how the trainer reads it (data_type, ctx_len, loss_mask, sft_field, magic_prime sampling).
import type { PreviewOptions } from './facts';
import { binidxPrefix, resolvePath } from './gather';
import { effective } from '../parse/resolve';
import { argText, findArg, type TrainRun } from '../parse/trainConfig';

export interface PreviewTarget { path: string; options: PreviewOptions }

export function previewTarget(run: TrainRun, cwd: string): PreviewTarget | undefined {
  const file = argText(run, 'data_file');
  if (!file || findArg(run, 'data_file')?.value?.dynamic) return undefined;
  const type = String(effective(run, 'data_type').value);
  if (type !== 'binidx' && type !== 'jsonl' && type !== 'sft') return undefined;
  const ctx = Number(effective(run, 'ctx_len').value);
  const sft = effective(run, 'sft_field');
  const options: PreviewOptions = {
    dataType: type,
    ctxLen: Number.isFinite(ctx) && ctx > 0 ? ctx : 1024,
    lossMask: String(effective(run, 'loss_mask').value ?? 'none'),
    ...(sft.given && Array.isArray(sft.value) ? { sftFields: sft.value.map(String) } : {}),
  };
  // RWKV-LM's magic_prime sampler reads the binidx as one stream, every token a target (the
  // engine's rule: train/data_source.cpp uses_stream_sampler)
  const dataload = effective(run, 'dataload');
  if (type === 'binidx' && Number(effective(run, 'magic_prime').value) > 0 && (!dataload.given || dataload.value === 'get')) options.magicPrime = true;
  return { path: type === 'binidx' ? binidxPrefix(run, cwd)! : resolvePath(cwd, file), options };
}
