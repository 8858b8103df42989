// RWKV026: what Run Training's engine cannot do with a run that train.py itself accepts (a
// quantised base, a data type it does not read, a ctx_len the GPU's WKV7 kernel cannot split, ...). The
// answer is the engine's own (Facts.checkRun: its flag and option rules and the GPU backend's
// limits), so the editor and the trainer cannot disagree.
import { ok } from '../facts/snapshot';
import { findArg } from '../parse/trainConfig';
import type { Check } from './types';
import { argSpan, runHead } from './util';

/** Engine answers that are this check's business; flag syntax and values have their own checks. */
const ENGINE_LIMITS = new Set(['E_FLAG_UNSUPPORTED', 'E_CUDA_UNSUPPORTED']);

export const check: Check = {
  code: 'RWKV026',
  name: 'engine-support',
  docs: {
    what: 'Says when the bundled engine (Run Training) cannot train a run that train.py itself accepts: a setting it does not implement, or one its GPU backend does not do yet (the CPU backend may).',
    why: 'train.py would run it, so nothing else flags it; pressing Run Training would stop at once with the same message.',
    example: "--ctx_len 500 --accelerator gpu   # the GPU's WKV7 kernel needs a multiple of 16; the CPU backend runs it",
    fix: 'Follow the hint (often --accelerator cpu for small models, or a setting the engine supports), or run the script with Python as usual.',
  },
  checkRun({ run, facts, runIndex }) {
    const answer = ok(facts.runs[runIndex]?.engine);
    if (!answer || answer.ok || !ENGINE_LIMITS.has(answer.code)) return [];
    // The engine names the flag its answer is about (EngineError::flag): put the note on it.
    const arg = answer.flag ? findArg(run, answer.flag) : undefined;
    const where = answer.code === 'E_CUDA_UNSUPPORTED' ? "Run Training's GPU engine" : 'Run Training (the bundled engine)';
    return [{
      code: 'RWKV026',
      severity: 'info',
      message: `${where} cannot run this as written: ${answer.message}.${answer.hint ? ` ${answer.hint[0]!.toUpperCase()}${answer.hint.slice(1)}.` : ''} train.py itself accepts it.`,
      span: arg ? argSpan(arg) : runHead(run),
    }];
  },
};
