// The keys each PEFT method's settings accept: the new form (`--peft X --peft_config '{...}'`,
// Hugging Face peft's LoraConfig / MissConfig keyword arguments as RWKV-PEFT passes them) and the
// older forms (`--lora_config`, `--pissa_config`, `--disha_config`, `--miss_config`). One place.
// Which --peft name trains which method and carries its settings in which flag is flags.json's
// `peftMethods` table, which the engine (train/peft_options.cpp, core/planner.cpp) reads too.
import table from '../flags/flags.json';
import type { Trainer } from '../parse/trainConfig';

export type KeyType = 'int' | 'float' | 'string' | 'bool' | 'list' | 'path';

export interface PeftKey {
  key: string;
  type: KeyType;
  default?: unknown;
  values?: string[];
  /** Values of a form rather than a list (peft's "pissa_niter_[iterations]"), as a regular expression. */
  valuePattern?: string;
  min?: number;
  max?: number;
  /** The newest train.py passes this keyword to peft itself, so a --peft_config that sets it too
   * stops at start-up (TypeError: got multiple values). RWKV012 reports it; completion leaves it out. */
  passedByTrainer?: boolean;
  doc: { en: string; zh: string };
}

const r = (d: number): PeftKey => ({ key: 'r', type: 'int', default: d, min: 1, doc: { en: 'Rank of the adapter (LoRA: 8-64; MiSS: 32 or 64).', zh: '适配器的秩(LoRA 常用 8-64;MiSS 用 32 或 64)。' } });
const targetModules: PeftKey = { key: 'target_modules', type: 'list', passedByTrainer: true, doc: { en: 'Module names to adapt; RWKV-PEFT passes ["receptance","key","value","output"] itself.', zh: '要适配的模块名;RWKV-PEFT 已固定传入 ["receptance","key","value","output"]。' } };

/** Settings per method in the new `--peft_config` form (keys are peft's keyword arguments). */
export const PEFT_CONFIG_KEYS: Record<string, PeftKey[]> = {
  lora: [
    r(8),
    { key: 'lora_alpha', type: 'float', default: 8, min: 0, doc: { en: 'LoRA scaling numerator (scale = lora_alpha / r); about 2 × r is the usual choice.', zh: 'LoRA 缩放系数(缩放 = lora_alpha / r),通常取 r 的两倍。' } },
    { key: 'lora_dropout', type: 'float', default: 0, min: 0, max: 1, doc: { en: 'Dropout on the LoRA branch (0 to 0.1).', zh: 'LoRA 分支上的 dropout(0 到 0.1)。' } },
    targetModules,
    { key: 'bias', type: 'string', default: 'none', values: ['none', 'all', 'lora_only'], doc: { en: 'Which biases to train.', zh: '训练哪些偏置。' } },
    { key: 'use_rslora', type: 'bool', default: false, doc: { en: 'Rank-stabilised scaling lora_alpha / sqrt(r).', zh: '使用秩稳定缩放 lora_alpha / sqrt(r)。' } },
    { key: 'init_lora_weights', type: 'string', default: 'true', values: ['true', 'false', 'gaussian', 'pissa', 'olora', 'loftq'], valuePattern: '^pissa_niter_[0-9]+$', doc: { en: 'Adapter initialisation ("pissa" gives PiSSA through LoRA).', zh: '适配器初始化方式("pissa" 即通过 LoRA 实现 PiSSA)。' } },
    { key: 'use_dora', type: 'bool', default: false, doc: { en: 'Weight-decomposed LoRA (DoRA).', zh: '使用权重分解的 LoRA(DoRA)。' } },
    { key: 'modules_to_save', type: 'list', doc: { en: 'Extra modules trained and saved in full.', zh: '额外全量训练并保存的模块。' } },
  ],
  miss: [
    r(64),
    { key: 'mini_r', type: 'int', min: 1, doc: { en: 'MiSS mini rank (the "mini" variant).', zh: 'MiSS 的 mini 秩(mini 变体)。' } },
    { key: 'miss_dropout', type: 'float', default: 0, min: 0, max: 1, doc: { en: 'Dropout on the MiSS branch.', zh: 'MiSS 分支上的 dropout。' } },
    { key: 'init_weights', type: 'string', values: ['true', 'false', 'bat', 'mini'], doc: { en: 'MiSS variant: true (MiSS), bat, mini.', zh: 'MiSS 变体:true(MiSS)、bat、mini。' } },
    targetModules,
    { key: 'modules_to_save', type: 'list', doc: { en: 'Extra modules trained and saved in full.', zh: '额外全量训练并保存的模块。' } },
  ],
  adalora: [
    r(8),
    { key: 'lora_alpha', type: 'float', default: 8, min: 0, doc: { en: 'LoRA scaling numerator.', zh: 'LoRA 缩放系数。' } },
    { key: 'lora_dropout', type: 'float', default: 0, min: 0, max: 1, doc: { en: 'Dropout on the adapter.', zh: '适配器上的 dropout。' } },
    { key: 'target_r', type: 'int', min: 1, doc: { en: 'Average target rank after pruning.', zh: '剪枝后的平均目标秩。' } },
    { key: 'init_r', type: 'int', min: 1, doc: { en: 'Initial rank before pruning.', zh: '剪枝前的初始秩。' } },
    { key: 'total_step', type: 'int', min: 1, doc: { en: 'Total training steps (required by AdaLoRA).', zh: '总训练步数(AdaLoRA 必需)。' } },
    targetModules,
  ],
  prefix: [
    { key: 'num_virtual_tokens', type: 'int', min: 1, doc: { en: 'Number of trained prefix tokens.', zh: '训练的前缀 token 数。' } },
  ],
  state: [],
};

/** Older forms: one JSON flag per method. */
export const LEGACY_CONFIG_KEYS: Record<string, { method: string; keys: PeftKey[] }> = {
  lora_config: {
    method: 'lora',
    keys: [
      { key: 'lora_load', type: 'path', default: '', doc: { en: 'LoRA weights to continue from ("" starts fresh).', zh: '继续训练的 LoRA 权重("" 表示从头开始)。' } },
      { key: 'lora_r', type: 'int', default: 8, min: 1, doc: { en: 'LoRA rank.', zh: 'LoRA 的秩。' } },
      { key: 'lora_alpha', type: 'float', default: 32, min: 0, doc: { en: 'LoRA scaling numerator; about 2 × lora_r.', zh: 'LoRA 缩放系数,约为 lora_r 的两倍。' } },
      { key: 'lora_dropout', type: 'float', default: 0.01, min: 0, max: 1, doc: { en: 'Dropout on the LoRA branch.', zh: 'LoRA 分支上的 dropout。' } },
    ],
  },
  pissa_config: {
    method: 'pissa',
    keys: [
      { key: 'pissa_load', type: 'path', default: '', doc: { en: 'PiSSA weights to continue from ("" starts fresh).', zh: '继续训练的 PiSSA 权重("" 表示从头开始)。' } },
      { key: 'pissa_init', type: 'path', default: '', doc: { en: 'Saved PiSSA initialisation (skips the SVD; "" computes it).', zh: '已保存的 PiSSA 初始化("" 表示重新计算 SVD)。' } },
      { key: 'pissa_r', type: 'int', default: 8, min: 1, doc: { en: 'PiSSA rank.', zh: 'PiSSA 的秩。' } },
      { key: 'svd_niter', type: 'int', default: 4, min: 1, doc: { en: 'Iterations of the fast SVD that initialises PiSSA.', zh: '初始化 PiSSA 的快速 SVD 迭代次数。' } },
    ],
  },
  disha_config: {
    method: 'disha',
    keys: [
      { key: 'mode', type: 'string', default: 'mode', doc: { en: 'DiSHA structure: bone or bat.', zh: 'DiSHA 结构:bone 或 bat。' } },
      { key: 'load', type: 'path', default: '', doc: { en: 'DiSHA weights to continue from ("" starts fresh).', zh: '继续训练的 DiSHA 权重("" 表示从头开始)。' } },
      { key: 'r', type: 'int', default: 64, min: 1, doc: { en: 'Block size / rank (32 or 64).', zh: '块大小/秩(32 或 64)。' } },
    ],
  },
  miss_config: {
    method: 'miss',
    keys: [
      { key: 'mode', type: 'string', default: 'mode', doc: { en: 'MiSS structure.', zh: 'MiSS 结构。' } },
      { key: 'load', type: 'path', default: '', doc: { en: 'MiSS weights to continue from ("" starts fresh).', zh: '继续训练的 MiSS 权重("" 表示从头开始)。' } },
      { key: 'r', type: 'int', default: 64, min: 1, doc: { en: 'Block size / rank (32 or 64).', zh: '块大小/秩(32 或 64)。' } },
    ],
  },
};

/** One --peft name of flags.json's `peftMethods`: the method it trains, which trainers spell it,
 * the older JSON flag that carries its settings and the --peft_config key set. */
export interface PeftName {
  name: string;
  method: string;
  trainers: Trainer[];
  configFlag?: string;
  peftConfig?: string;
  supported: boolean;
}

export const PEFT_NAMES: readonly PeftName[] = (table as unknown as { peftMethods: { names: PeftName[] } }).peftMethods.names;
const peftByName = new Map(PEFT_NAMES.map((n) => [n.name, n]));

export function peftName(name: string): PeftName | undefined { return peftByName.get(name); }

/** What a --peft name trains (bone and disha: miss); the name itself when the table lacks it. */
export function peftMethod(name: string): string { return peftByName.get(name)?.method ?? name; }

/** The --peft_config settings table for a --peft name (bone/disha: MiSS's, pissa: LoRA's). */
export function peftConfigKeys(name: string): PeftKey[] | undefined {
  const n = peftByName.get(name);
  return PEFT_CONFIG_KEYS[n ? n.peftConfig ?? n.method : name];
}

/**
 * The keys a standalone peft_config .json may hold, and how to name its form in messages: an older
 * form when it has a key only the older flags use, else the method its file name says (PiSSA is
 * LoRA's settings), LoRA when it has lora_alpha, and any method's keys when nothing says which.
 */
export function standaloneSettingsKeys(keysPresent: readonly string[], namedMethod: string | undefined): { keys: PeftKey[]; context: string; legacy: boolean } {
  const legacy = Object.entries(LEGACY_CONFIG_KEYS).find(([, l]) => l.keys.some((k) => keysPresent.includes(k.key) && LEGACY_ONLY_KEYS.has(k.key)));
  if (legacy) return { keys: legacy[1].keys, context: `--${legacy[0]}`, legacy: true };
  const method = namedMethod === 'pissa' ? 'lora' : namedMethod ?? (keysPresent.includes('lora_alpha') ? 'lora' : undefined);
  const keys = method ? peftConfigKeys(method) : undefined;
  if (keys) return { keys, context: `--peft ${method}`, legacy: false };
  const all = [...new Map(['lora', 'miss', 'adalora', 'prefix'].flatMap((m) => peftConfigKeys(m) ?? []).map((k) => [k.key, k])).values()];
  return { keys: all, context: 'any PEFT method', legacy: false };
}

/** The legacy JSON flag that carries a --peft name's settings in the older form. */
export const LEGACY_FLAG_OF: Record<string, string> = Object.fromEntries(
  PEFT_NAMES.filter((n) => n.configFlag).map((n) => [n.name, n.configFlag!]),
);

/** Names people write for peft's keys (train.py's own --help example uses "alpha" and "dropout"). */
export const KEY_ALIASES: Record<string, string> = { rank: 'r', alpha: 'lora_alpha', dropout: 'lora_dropout', lora_r: 'r', target: 'target_modules', modules: 'target_modules' };

/** Keys that only the older JSON forms use: their presence identifies a legacy config file. */
export const LEGACY_ONLY_KEYS = new Set(['lora_load', 'lora_r', 'pissa_load', 'pissa_init', 'pissa_r', 'svd_niter']);
