// RWKV025: a load_model checkpoint or binidx dataset that exists but cannot be read.
import { findArg } from '../parse/trainConfig';
import type { Check, Finding } from './types';
import { onValue } from './util';

/** Peek-mode cache misses: no answer yet, not a verdict on the file. */
const NOT_YET = 'not known yet';

export const check: Check = {
  code: 'RWKV025',
  name: 'unreadable-file',
  docs: {
    what: 'A load_model file that is not a readable PyTorch checkpoint (truncated, not a zip, an HTML error page saved as .pth), or a binidx dataset whose index cannot be read.',
    why: 'torch.load fails only after the trainer has started; a half-downloaded model is the usual cause.',
    example: '--load_model models/rwkv7-g1-1.5b.pth   # a 2 KB download error page',
    fix: 'Download the file again (compare its size with the published one).',
  },
  checkRun({ run, facts, runIndex }) {
    const rf = facts.runs[runIndex];
    if (!rf) return [];
    const out: Finding[] = [];
    const ck = rf.checkpoint;
    const load = findArg(run, 'load_model');
    if (ck && 'error' in ck && !ck.unavailable && ck.error !== NOT_YET && load) out.push(onValue('RWKV025', 'error', load, `Cannot read the checkpoint: ${ck.error}`));
    const ds = rf.dataset;
    const data = findArg(run, 'data_file');
    if (ds && 'error' in ds && !ds.unavailable && ds.error !== NOT_YET && data) out.push(onValue('RWKV025', 'error', data, `Cannot read the dataset: ${ds.error}`));
    return out;
  },
};
