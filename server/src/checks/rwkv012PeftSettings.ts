// RWKV012: PEFT settings (--peft_config and the older --lora_config/--pissa_config/--disha_config/
// --miss_config): valid JSON, keys the method takes, values of the right type.
import { closest } from '../core/didYouMean';
import { KEY_ALIASES, LEGACY_CONFIG_KEYS, LEGACY_FLAG_OF, peftConfigKeys, standaloneSettingsKeys, type PeftKey } from '../peft/peftKeys';
import type { ObjectView } from '../parse/trainConfig';
import type { Check, Finding } from './types';
import { methodFlag, methodOf, settingsOf, type Settings } from './peftSettings';
import { replaceValue, usedHere } from './util';

export const check: Check = {
  code: 'RWKV012',
  name: 'peft-settings',
  docs: {
    what: 'Checks the PEFT settings JSON: it must parse with json.loads, hold only keys the method takes (LoRA r/lora_alpha/lora_dropout/..., MiSS r, PiSSA pissa_r/svd_niter/pissa_load/pissa_init, ...) with values of the right type, and the older forms must have every key train.py reads. target_modules is refused in --peft_config (the newest train.py passes it itself), and JSON whose double quotes bash removed is named as such.',
    why: 'The newest RWKV-PEFT passes peft_config to Hugging Face peft (an unknown key is a TypeError); the older one indexes its config dicts directly (a missing key is a KeyError). Backslashes before braces, as in the rendered tutorial text \'\\{"r":64\\}\', reach json.loads and fail.',
    example: `--peft lora --peft_config '{"rank":64}'`,
    fix: 'Use the suggested key (quick fix: rename), or remove the backslashes (quick fix).',
  },
  checkRun({ run }) {
    const out: Finding[] = [];
    const method = methodOf(run);
    const s = settingsOf(run, 'peft_config');
    if (s) {
      out.push(...syntax(s));
      const keys = peftConfigKeys(method);
      if (s.object && (method === 'none' || method === 'state')) {
        if (s.object.entries.length) out.push({ code: 'RWKV012', severity: 'warning', message: `--peft_config is not used with ${methodFlag(run)}.`, span: s.arg.value!.span, related: usedHere(s.arg.value) });
      } else if (s.object && keys && !s.problems.length) {
        out.push(...entries(s.object, keys, methodFlag(run), false));
      }
    }
    for (const [flag, { method: legacyMethod, keys }] of Object.entries(LEGACY_CONFIG_KEYS)) {
      const ls = settingsOf(run, flag);
      if (!ls) continue;
      out.push(...syntax(ls));
      if (!ls.object || ls.problems.length) continue;
      const active = legacyMethod === method || LEGACY_FLAG_OF[method] === flag;
      out.push(...entries(ls.object, keys, `--${flag}`, active));
    }
    return out;
  },
  checkDocument(config) {
    // a standalone peft_config .json file: which method it is for comes from its name or keys
    if (config.kind !== 'peft-json' || !config.peft) return [];
    const { keys, context, legacy } = standaloneSettingsKeys(config.peft.entries.map((e) => e.key), config.peftMethod);
    return entries(config.peft, keys, context, legacy);
  },
};

function syntax(s: Settings): Finding[] {
  const out: Finding[] = [];
  if (s.escapes.length) {
    out.push({
      code: 'RWKV012', severity: 'error',
      message: `--${s.arg.name}: the backslashes before { and } reach train.py (the shell keeps them inside single quotes), so json.loads fails. This form comes from rendered tutorial text; write '{...}'.`,
      span: s.escapes[0]!, related: usedHere(s.arg.value),
      fixes: [{ title: 'Remove the backslashes', preferred: true, edits: s.escapes.map((span) => ({ span, newText: '' })) }],
    });
  }
  const t = s.arg.value?.text ?? '';
  if (s.problems.length && !t.includes('"') && /[{,]\s*[A-Za-z_]\w*\s*:/.test(t)) {
    // `peft_config={"r":8}` unquoted: bash removed the double quotes, json.loads gets {r:8}
    const quoted = t.replace(/([{,]\s*)([A-Za-z_]\w*)(\s*:)/g, '$1"$2"$3');
    let parses = true;
    try { JSON.parse(quoted); } catch { parses = false; }
    const edits = parses ? replaceValue(s.arg.value, `'${quoted}'`) : [];
    out.push({
      code: 'RWKV012', severity: 'error', span: s.arg.value!.span, related: usedHere(s.arg.value),
      message: `--${s.arg.name}: train.py gets ${t}, with no double quotes: bash removes quotes that are not inside single quotes, so json.loads fails (invalid JSON). Put the whole JSON in single quotes: '${quoted}'.`,
      ...(edits.length ? { fixes: [{ title: 'Put the JSON in single quotes', preferred: true, edits }] } : {}),
    });
    return out;
  }
  for (const p of s.problems.slice(0, 1)) out.push({ code: 'RWKV012', severity: 'error', message: `--${s.arg.name}: ${p.message}`, span: p.span, related: usedHere(s.arg.value) });
  return out;
}

function entries(obj: ObjectView, keys: PeftKey[], context: string, requireAll: boolean): Finding[] {
  const out: Finding[] = [];
  for (const e of obj.entries) {
    const k = keys.find((x) => x.key === e.key);
    if (!k) {
      const alias = KEY_ALIASES[e.key];
      const guess = alias && keys.some((x) => x.key === alias) ? alias : closest(e.key, keys.map((x) => x.key));
      out.push({
        code: 'RWKV012', severity: requireAll ? 'warning' : 'error',
        message: `"${e.key}" is not a setting of ${context}${guess ? `; did you mean "${guess}"?` : `. Known: ${keys.map((x) => x.key).join(', ') || '(none)'}.`}`,
        span: e.keySpan,
        ...(guess ? { fixes: [{ title: `Rename to "${guess}"`, preferred: true, edits: [{ span: e.keySpan, newText: JSON.stringify(guess) }] }] } : {}),
      });
      continue;
    }
    if (k.passedByTrainer && !requireAll) {
      // the newest train.py calls LoraConfig(target_modules=[...], **peft_config) itself
      out.push({ code: 'RWKV012', severity: 'error', span: e.keySpan,
        message: `"target_modules" cannot be set in ${context}'s settings: the newest RWKV-PEFT's train.py passes target_modules=["receptance","key","value","output"] itself, so a second one stops it at start-up (TypeError: got multiple values for keyword argument 'target_modules').` });
      continue;
    }
    const problem = typeProblem(k, e.value);
    if (problem) out.push({ code: 'RWKV012', severity: 'error', message: `"${e.key}" ${problem}.`, span: e.valueSpan });
  }
  if (requireAll) {
    const missing = keys.filter((k) => !obj.entries.some((e) => e.key === k.key));
    if (missing.length) out.push({ code: 'RWKV012', severity: 'error', message: `${context} lacks ${missing.map((m) => `"${m.key}"`).join(', ')}; the older RWKV-PEFT reads every key (KeyError otherwise).`, span: obj.span });
  }
  return out;
}

function typeProblem(k: PeftKey, v: unknown): string | undefined {
  switch (k.type) {
    case 'int':
      if (typeof v !== 'number' || !Number.isInteger(v)) return `must be an integer, not ${JSON.stringify(v)}`;
      break;
    case 'float':
      if (typeof v !== 'number') return `must be a number, not ${JSON.stringify(v)}`;
      break;
    case 'bool':
      if (typeof v !== 'boolean') return `must be true or false, not ${JSON.stringify(v)}`;
      return undefined;
    case 'list':
      if (!Array.isArray(v) && typeof v !== 'string') return `must be a list of module names`;
      return undefined;
    case 'string': case 'path':
      if (k.values && !k.values.includes(String(v)) && !(k.valuePattern && new RegExp(k.valuePattern).test(String(v)))) return `must be one of ${k.values.join(', ')}${k.valuePattern === '^pissa_niter_[0-9]+$' ? ', or pissa_niter_N (PiSSA with N subspace iterations)' : ''}`;
      if (!k.values && typeof v !== 'string') return `must be a string`;
      return undefined;
  }
  const n = v as number;
  if (k.min !== undefined && n < k.min) return `must be at least ${k.min}`;
  if (k.max !== undefined && n > k.max) return `must be at most ${k.max}`;
  return undefined;
}
