// RWKV026: what Run Training's engine cannot do with a run that train.py itself accepts (a
// quantised base, a data type it does not read, a ctx_len the GPU's WKV7 kernel cannot split, ...). The
// answer is the engine's own (Facts.checkRun: its flag and option rules and the GPU backend's
// limits), so the editor and the trainer cannot disagree.
import { ok } from '../facts/snapshot';
import { flagDefault, flagSpec, formatDefault } from '../flags/flagTable';
import { effective } from '../parse/resolve';
import { findArg, type FlagArg, type TrainRun } from '../parse/trainConfig';
import { trainPyTakes } from './rwkv002FlagValue';
import { needs } from './rwkv005MissingFlag';
import type { Check } from './types';
import { argSpan, runHead } from './util';

/** Engine answers that are this check's business; flag syntax and values have their own checks. */
const ENGINE_LIMITS = new Set(['E_FLAG_UNSUPPORTED', 'E_CUDA_UNSUPPORTED']);

export const check: Check = {
  code: 'RWKV026',
  name: 'engine-support',
  docs: {
    what: 'Says when the bundled engine (Run Training) cannot train a run that train.py itself accepts: a setting it does not implement, one its GPU backend does not do yet (the CPU backend may), or a value train.py takes that the engine refuses (--loss_mask se; with several ranks, an epoch that is not a multiple of accumulate_grad_batches). Where the refusal is about a flag the script does not write, it says that train.py\'s default is the value in question (for the GPU: --accelerator\'s default gpu).',
    why: 'train.py would run it, so nothing else flags it; pressing Run Training would stop at once with the same message.',
    example: "--ctx_len 500 --accelerator gpu   # the GPU's WKV7 kernel needs a multiple of 16; the CPU backend runs it",
    fix: 'Follow the hint (often --accelerator cpu for small models, or a setting the engine supports), or run the script with Python as usual.',
  },
  checkRun({ run, facts, runIndex }) {
    const answer = ok(facts.runs[runIndex]?.engine);
    if (!answer || answer.ok) return [];
    // The engine names the flag its answer is about (EngineError::flag): put the note on it.
    const arg = answer.flag ? findArg(run, answer.flag) : undefined;
    if (!ENGINE_LIMITS.has(answer.code) && !(answer.code === 'E_FLAG_VALUE' && answer.flag && takenByTrainPy(run, answer.flag, arg))) return [];
    // RWKV-LM's train.py does not accept a ctx_len its WKV7 kernel cannot chunk either: RWKV018's finding
    if (run.trainer === 'lm-v7' && answer.flag === 'ctx_len' && answer.code === 'E_CUDA_UNSUPPORTED') return [];
    const where = answer.code === 'E_CUDA_UNSUPPORTED' ? "Run Training's GPU engine" : 'Run Training (the bundled engine)';
    // the engine judged the whole argv, defaults included: a value the script never wrote is named as train.py's default
    const defaults = [answer.flag && !arg ? answer.flag : undefined, answer.code === 'E_CUDA_UNSUPPORTED' && !findArg(run, 'accelerator') ? 'accelerator' : undefined]
      .filter((f, i, all): f is string => !!f && flagSpec(f) !== undefined && all.indexOf(f) === i)
      .map((f) => `--${f} is not in the script, so train.py's default ${formatDefault(flagDefault(flagSpec(f)!, run.trainer))} applies`);
    return [{
      code: 'RWKV026',
      severity: 'info',
      message: `${where} cannot run this as written: ${answer.message}${defaults.length ? ` (${defaults.join('; ')})` : ''}.${answer.hint ? ` ${answer.hint[0]!.toUpperCase()}${answer.hint.slice(1)}.` : ''} train.py itself accepts it.`,
      span: arg ? argSpan(arg) : runHead(run),
    }];
  },
};

/**
 * Whether an engine refusal of a flag's value is about a value train.py takes: one RWKV002 accepts
 * as written, or a default the script leaves (unless RWKV005 already asks for the flag: one cause,
 * one finding). Refusals of values train.py refuses too are the value checks' to report, and so
 * are zero or negative counts (argparse lets `--vocab_size 0` through, but such a run does not train).
 */
function takenByTrainPy(run: TrainRun, flag: string, arg: FlagArg | undefined): boolean {
  const value = effective(run, flag).value;
  if (typeof value === 'number' && value <= 0) return false;
  if (arg) return trainPyTakes(run, arg);
  return flagSpec(flag) !== undefined && !needs(run).some((n) => n.flag === flag);
}
