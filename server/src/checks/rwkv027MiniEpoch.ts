// RWKV027: RWKV-LM's mini-epoch is 40320 samples, so its train.py stops at start-up unless
// real_bsz = micro_bsz × devices × num_nodes divides 40320 (train_temp/train.py:
// epoch_steps = 40320 // real_bsz; assert epoch_steps * real_bsz == 40320).
import { effective } from '../parse/resolve';
import { findArg } from '../parse/trainConfig';
import type { Check, Finding } from './types';
import { onValue, replaceValue, runHead } from './util';

const MINI_EPOCH = 40320;

/** micro_bsz values nearest to `want` (below, above) for which real_bsz divides 40320. */
export function nearestMicroBsz(want: number, perMicro: number): number[] {
  const ok = (m: number) => MINI_EPOCH % (m * perMicro) === 0;
  let below = 0, above = 0;
  for (let m = Math.min(want, MINI_EPOCH); m >= 1 && !below; m--) if (ok(m)) below = m;
  for (let m = Math.max(want, 1); m <= MINI_EPOCH && !above; m++) if (ok(m)) above = m;
  return [...new Set([below, above].filter((m) => m > 0))];
}

export const check: Check = {
  code: 'RWKV027',
  name: 'mini-epoch',
  docs: {
    what: 'For RWKV-LM pretraining, micro_bsz × devices × num_nodes (real_bsz) must divide 40320, the samples of one mini-epoch.',
    why: 'RWKV-LM\'s train.py sets epoch_steps = 40320 // real_bsz and asserts epoch_steps × real_bsz == 40320: any other batch size stops it at start-up (and Run Training\'s engine with it).',
    example: 'M_BSZ="256"   # 40320 / 256 = 157.5',
    fix: 'Use a micro_bsz that divides 40320 / (devices × num_nodes), e.g. 16, 24, 32, 48, 64, 96, 128, 160, 192, 240, 252, 280 on one GPU (quick fix: the nearest ones).',
  },
  checkRun({ run }) {
    if (run.trainer !== 'lm-v7') return [];
    const num = (n: string): number | undefined => {
      const v = effective(run, n).value;
      return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined;
    };
    const micro = num('micro_bsz'), devices = num('devices'), nodes = num('num_nodes');
    if (micro === undefined || devices === undefined || nodes === undefined) return [];
    const real = micro * devices * nodes;
    if (MINI_EPOCH % real === 0) return [];
    const message = `RWKV-LM's mini-epoch is 40320 samples: real_bsz = micro_bsz × devices × num_nodes = ${micro} × ${devices} × ${nodes} = ${real} does not divide it (40320 / ${real} = ${(MINI_EPOCH / real).toFixed(2)}), so train.py stops at start-up (assert epoch_steps * real_bsz == 40320).`;
    const arg = findArg(run, 'micro_bsz');
    const choices = nearestMicroBsz(micro, devices * nodes);
    if (!arg) return [{ code: 'RWKV027', severity: 'error', message, span: runHead(run) }];
    const fixes = choices.flatMap((m, i) => {
      const edits = replaceValue(arg.value, String(m));
      return edits.length ? [{ title: `Set micro_bsz to ${m}`, preferred: i === 0, edits }] : [];
    });
    const f: Finding = onValue('RWKV027', 'error', arg, message, fixes.length ? { fixes } : {});
    return [f];
  },
};
