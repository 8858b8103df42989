// Hover: the flag's doc in the client's language, its type/default/allowed values, the effective
// value after expansion (and which variable it came from), and facts about the files it names.
import type { Hover } from 'vscode-languageserver/node';
import { flagDefault, flagSpec, formatDefault, docOf } from '../flags/flagTable';
import { ok } from '../facts/snapshot';
import { lineOf } from '../core/span';
import { effective } from '../parse/resolve';
import { LEGACY_CONFIG_KEYS, peftConfigKeys } from '../peft/peftKeys';
import { methodFlag, methodOf } from '../checks/peftSettings';
import type { Analysis } from './analysis';
import { aside, langOf, lineRef, listOf, memoryCategory, t, TRAINER_NAMES, type Lang } from './i18n';
import { trainerReason } from '../parse/trainer';
import { locate } from './locate';
import type { TrainRun } from '../parse/trainConfig';

const GB = 1e9;

export function hoverAt(a: Analysis, offset: number, locale: string | undefined): Hover | undefined {
  const lang = langOf(locale);
  const at = locate(a.config, offset);
  if (!at) return undefined;
  const md: string[] = [];
  if (at.kind === 'flag' || at.kind === 'value') {
    md.push(flagDoc(at.arg.name, at.run, lang));
    md.push(effectiveLine(a, at.run, at.arg.name, lang));
    md.push(...factsLines(a, at.runIndex, at.arg.name, lang));
  } else if (at.kind === 'peftKey') {
    const method = methodOf(at.run);
    const keys = at.arg.name === 'peft_config' ? peftConfigKeys(method) : LEGACY_CONFIG_KEYS[at.arg.name]?.keys;
    const k = keys?.find((x) => x.key === at.entry.key);
    md.push(`**${at.entry.key}** · ${at.arg.name === 'peft_config' ? methodFlag(at.run) : `--${at.arg.name}`}${k ? ` · ${k.type}${k.default !== undefined ? ` · ${t('default', lang)} ${JSON.stringify(k.default)}` : ''}` : ''}`);
    if (k) md.push(k.doc[lang]);
  } else if (at.kind === 'variable') {
    const v = at.variable;
    md.push(`**$${v.name}** = \`${v.dynamic ? '?' : v.value}\``);
    if (at.uses.length) md.push(`${t('usedBy', lang)}: ${[...new Set(at.uses.map((u) => `--${u.arg.name}`))].join(', ')}`);
    const spec = flagSpec(v.name) ?? (at.uses[0] ? flagSpec(at.uses[0].arg.name) : undefined);
    if (spec) md.push(docOf(spec, lang === 'zh' ? 'zh' : 'en'));
    if (at.uses[0]) md.push(...factsLines(a, at.uses[0].runIndex, at.uses[0].arg.name, lang));
  } else {
    md.push(`**train.py** · ${t('trainer', lang)}: ${TRAINER_NAMES[at.run.trainer]![lang]}${aside(trainerReason(at.run.trainerEvidence, lang), lang)}`);
    md.push(...memoryLines(a, at.runIndex, lang));
  }
  const value = md.filter(Boolean).join('\n\n');
  return value ? { contents: { kind: 'markdown', value } } : undefined;
}

export function flagDoc(name: string, run: TrainRun | undefined, lang: Lang): string {
  const spec = flagSpec(name);
  if (!spec) return `**--${name}** · ${t('unknownFlag', lang)}`;
  const def = formatDefault(run ? flagDefault(spec, run.trainer) : spec.default);
  const lines = [`**--${name}** · ${spec.type}${spec.nargs ? ` (nargs ${spec.nargs})` : ''} · ${t('default', lang)} \`${def}\``, docOf(spec, lang)];
  if (spec.values) lines.push(`${t('allowed', lang)}: ${spec.values.map((v) => `\`${v}\``).join(', ')}`);
  if (spec.deprecated) lines.push(`${t('deprecated', lang)} \`--${spec.deprecated}\``);
  lines.push(`${t('trainers', lang)}: ${spec.trainers.map((x) => TRAINER_NAMES[x]![lang]).join(', ')}${t('sentenceEnd', lang)}${spec.engine === 'used' ? t('engineUsed', lang) : t('engineIgnored', lang)}`);
  return lines.join('\n\n');
}

function effectiveLine(a: Analysis, run: TrainRun, name: string, lang: Lang): string {
  if (!flagSpec(name)) return '';
  const arg = run.args.filter((x) => x.name === name).pop();
  const { value, given } = effective(run, name);
  if (!given) return `${t('effective', lang)}: \`${formatDefault(value)}\`${aside(t('notGiven', lang), lang)}`;
  const v = arg?.value;
  const shown = v?.dynamic ? `${v.text} (?)` : Array.isArray(value) ? value.join(' ') : String(value);
  const via = v?.via.filter((u) => u.assignSpan).map((u) => `\`$${u.name}\`${lineRef(lineOf(a.text, u.assignSpan!.start), lang)}`) ?? [];
  return `${t('effective', lang)}: \`${shown}\`${via.length ? ` — ${t('fromVariable', lang)} ${listOf(via, lang)}` : ''}`;
}

function factsLines(a: Analysis, runIndex: number, name: string, lang: Lang): string[] {
  const rf = a.snapshot.runs[runIndex];
  if (!rf) return [];
  if (name === 'load_model' || name === 'n_layer' || name === 'n_embd' || name === 'vocab_size' || name === 'my_testing') {
    const ck = ok(rf.checkpoint);
    if (ck) return [`${t('checkpoint', lang)}: ${ck.version}, ${ck.nLayer} ${t('layers', lang)} × ${ck.nEmbd}, ${t('vocab', lang)} ${ck.vocabSize}, ${t('headSize', lang)} ${ck.headSize}${ck.isAdapter ? aside(t('adapter', lang), lang) : ''}`];
    if (rf.checkpoint && 'error' in rf.checkpoint && name === 'load_model') return [`${t('checkpoint', lang)}: ${rf.checkpoint.error}`];
  }
  if (name === 'data_file' || name === 'magic_prime' || name === 'my_exit_tokens' || name === 'ctx_len') {
    const ds = ok(rf.dataset);
    if (ds) return [`${t('dataset', lang)}: ${ds.tokens.toLocaleString('en-US')} ${t('tokens', lang)}, ${ds.documents.toLocaleString('en-US')} ${t('documents', lang)}${ds.magicPrime ? `, magic_prime ${ds.magicPrime}` : ''}`];
  }
  if (['micro_bsz', 'ctx_len', 'grad_cp', 'precision', 'quant', 'devices'].includes(name)) return memoryLines(a, runIndex, lang);
  return [];
}

function memoryLines(a: Analysis, runIndex: number, lang: Lang): string[] {
  const plan = ok(a.snapshot.runs[runIndex]?.memory);
  if (!plan) return [];
  const parts = Object.entries(plan.byCategory).filter(([, v]) => v >= 0.005 * GB).sort((x, y) => y[1] - x[1]).map(([k, v]) => `${memoryCategory(k, lang)} ${(v / GB).toFixed(2)}`);
  return [`${t('memory', lang)}: ${(plan.totalBytes / GB).toFixed(2)} GB${aside(listOf(parts, lang), lang)}`];
}

