// RWKV006: n_layer/n_embd against the model size named in load_model's file name.
import { sizeFromFileName, sizeVersion, versionLabel } from '../model/modelSizes';
import { ok } from '../facts/snapshot';
import { argNumber, argText, findArg } from '../parse/trainConfig';
import type { Check, Finding } from './types';
import { onValue, replaceValue } from './util';

export const check: Check = {
  code: 'RWKV006',
  name: 'size-vs-file-name',
  docs: {
    what: 'Compares --n_layer/--n_embd with the model size in the checkpoint\'s file name (rwkv7-g1-1.5b-... is 24 layers × 2048; RWKV-x060-World-3B-... is RWKV-6 3B, 32 × 2560).',
    why: 'A mismatch fails when the weights are loaded (size mismatch for blocks.N...). When the checkpoint can be read, RWKV007 checks the real shapes instead.',
    example: "load_model='rwkv7-g1-1.5b-20250429-ctx4096.pth'\nn_layer=32",
    fix: 'Use the size\'s n_layer/n_embd (quick fix).',
  },
  checkRun({ run, facts, runIndex }) {
    const load = argText(run, 'load_model');
    if (!load) return [];
    if (ok(facts.runs[runIndex]?.checkpoint)) return []; // the real shapes win (RWKV007)
    const size = sizeFromFileName(load, sizeVersion(argText(run, 'my_testing')));
    if (!size) return [];
    const out: Finding[] = [];
    for (const [flag, want] of [['n_layer', size.nLayer], ['n_embd', size.nEmbd]] as const) {
      const arg = findArg(run, flag);
      const got = argNumber(run, flag);
      if (!arg || got === undefined || got === want) continue;
      const edits = replaceValue(arg.value, String(want));
      out.push(onValue('RWKV006', 'error', arg, `--${flag} is ${got}, but the ${size.version === 'x060' ? `${versionLabel(size.version)} ` : ''}${size.size} model named in load_model has ${flag} ${want}.`,
        edits.length ? { fixes: [{ title: `Set ${flag} to ${want} (${size.size})`, preferred: true, edits }] } : {}));
    }
    return out;
  },
};
