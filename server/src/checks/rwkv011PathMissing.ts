// RWKV011: paths the run reads that do not exist (relative to where the script runs).
import { findArg } from '../parse/trainConfig';
import { dataPaths, resolvePath } from '../facts/gather';
import { argText } from '../parse/trainConfig';
import type { Check, Finding } from './types';
import { onValue } from './util';

export const check: Check = {
  code: 'RWKV011',
  name: 'path-missing',
  docs: {
    what: 'load_model, data_file (for binidx: both prefix.bin and prefix.idx) and the *_load / pissa_init paths inside the PEFT settings that do not exist, resolved from the directory the script runs in.',
    why: 'train.py fails only after importing torch and building the model; a relative path is resolved from where you start the script (usually the repository root), not from the script\'s folder.',
    example: '--load_model models/rwkv7-g1-1.5b.pth   # no such file',
    fix: 'Correct the path; completion lists the .pth files and binidx prefixes it can see.',
  },
  checkRun({ run, facts, runIndex }) {
    const rf = facts.runs[runIndex];
    if (!rf) return [];
    const out: Finding[] = [];
    const load = argText(run, 'load_model');
    const loadArg = findArg(run, 'load_model');
    if (load && load !== '0' && loadArg) {
      const abs = resolvePath(rf.cwd, load);
      const kind = rf.paths.get(abs);
      if (kind === 'missing') out.push(onValue('RWKV011', 'warning', loadArg, `load_model: ${abs} does not exist (resolved from ${rf.cwd}).`));
      else if (kind === 'dir') out.push(onValue('RWKV011', 'error', loadArg, `load_model: ${abs} is a folder; give the .pth file.`));
    }
    const dataArg = findArg(run, 'data_file');
    // --data_type sft loads data_file with Hugging Face datasets.load_dataset: `owner/name` is a dataset id there
    const hubId = argText(run, 'data_type') === 'sft' && /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/.test(argText(run, 'data_file') ?? '') && !/\.(jsonl?|parquet|csv|txt|arrow)$/i.test(argText(run, 'data_file') ?? '');
    if (dataArg && !hubId) {
      const missing = dataPaths(run, rf.cwd).filter((p) => rf.paths.get(p) === 'missing');
      if (missing.length) out.push(onValue('RWKV011', 'warning', dataArg, `data_file: ${missing.join(' and ')} ${missing.length > 1 ? 'do' : 'does'} not exist (resolved from ${rf.cwd}).`));
    }
    for (const [path, kind] of rf.paths) {
      if (kind !== 'missing') continue;
      if (path === (load ? resolvePath(rf.cwd, load) : '') || dataPaths(run, rf.cwd).includes(path)) continue;
      // a *_load / pissa_init path inside a legacy JSON config
      for (const flag of ['lora_config', 'pissa_config', 'disha_config', 'miss_config']) {
        const a = findArg(run, flag);
        if (a?.value && a.value.text.includes(path.split('/').pop() ?? '\u0000')) out.push(onValue('RWKV011', 'warning', a, `${flag}: ${path} does not exist (resolved from ${rf.cwd}).`));
      }
    }
    return out;
  },
};
