// RWKV013: lora_alpha far from 2 × r (a hint, not an error).
import type { Check, Finding } from './types';
import { entry, methodOf, settingsOf } from './peftSettings';
import { fmt } from './util';

export const check: Check = {
  code: 'RWKV013',
  name: 'lora-alpha',
  docs: {
    what: 'Hints when LoRA\'s lora_alpha is not about twice the rank (r, or lora_r in the older --lora_config).',
    why: 'The update is scaled by lora_alpha / r; the tutorials\' tables use lora_alpha = 2r, and a very different ratio changes the effective learning rate.',
    example: `--peft lora --peft_config '{"r":64,"lora_alpha":16}'`,
    fix: 'Set lora_alpha to 2r (quick fix).',
  },
  checkRun({ run }) {
    const method = methodOf(run);
    if (method !== 'lora') return [];
    const out: Finding[] = [];
    for (const [flag, rKey] of [['peft_config', 'r'], ['lora_config', 'lora_r']] as const) {
      const s = settingsOf(run, flag);
      const r = entry(s, rKey);
      const alpha = entry(s, 'lora_alpha');
      if (!s || !r || !alpha || typeof r.value !== 'number' || typeof alpha.value !== 'number' || r.value <= 0) continue;
      const ratio = alpha.value / r.value;
      if (ratio >= 1.5 && ratio <= 2.5) continue;
      out.push({
        code: 'RWKV013', severity: 'info',
        message: `lora_alpha ${fmt(alpha.value)} is ${fmt(ratio)} × ${rKey} ${r.value}; about 2 × ${rKey} (${2 * r.value}) is the usual choice.`,
        span: alpha.valueSpan,
        fixes: [{ title: `Set lora_alpha to ${2 * r.value}`, preferred: true, edits: [{ span: alpha.valueSpan, newText: String(2 * r.value) }] }],
      });
    }
    return out;
  },
};
