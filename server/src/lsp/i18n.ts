// The few words hover and completion add around the table's docs, in English and Chinese.
export type Lang = 'en' | 'zh';

export function langOf(locale: string | undefined): Lang {
  return locale && locale.toLowerCase().startsWith('zh') ? 'zh' : 'en';
}

const WORDS = {
  default: { en: 'default', zh: '默认值' },
  allowed: { en: 'Allowed', zh: '可选值' },
  trainers: { en: 'Accepted by', zh: '适用于' },
  engineUsed: { en: 'Used by the native engine.', zh: '原生引擎会使用此参数。' },
  engineIgnored: { en: 'Accepted and ignored by the native engine.', zh: '原生引擎接受但忽略此参数。' },
  effective: { en: 'Effective value', zh: '实际取值' },
  fromVariable: { en: 'from', zh: '来自' },
  notGiven: { en: 'not given: train.py uses the default', zh: '未指定:train.py 使用默认值' },
  checkpoint: { en: 'Checkpoint', zh: '权重文件' },
  dataset: { en: 'Dataset', zh: '数据集' },
  tokens: { en: 'tokens', zh: '个 token' },
  layers: { en: 'layers', zh: '层' },
  adapter: { en: 'adapter weights only', zh: '仅含适配器权重' },
  memory: { en: 'Estimated GPU memory', zh: '预计显存' },
  trainer: { en: 'Trainer', zh: '训练脚本' },
  deprecated: { en: 'Older form; prefer', zh: '旧写法,建议改用' },
  usedBy: { en: 'Used by', zh: '用于' },
  value: { en: 'Value', zh: '取值' },
  unknownFlag: { en: 'Unknown flag', zh: '未知参数' },
  preset: { en: 'model size preset', zh: '模型尺寸预设' },
  documents: { en: 'docs', zh: '个文档' },
  vocab: { en: 'vocab', zh: '词表' },
  headSize: { en: 'head', zh: '头大小' },
  sentenceEnd: { en: '. ', zh: '。' },
} as const;

export function t(word: keyof typeof WORDS, lang: Lang): string { return WORDS[word][lang]; }

/** A remark in parentheses after a word: " (remark)", or "（remark）" in Chinese, whose full-width parentheses carry their own spacing. */
export function aside(text: string, lang: Lang): string {
  return lang === 'zh' ? `（${text}）` : ` (${text})`;
}

/** Where a value was set, after its variable: " (line 5)" / "（第 5 行）" (`line` is 0-based). */
export function lineRef(line: number, lang: Lang): string {
  return aside(lang === 'zh' ? `第 ${line + 1} 行` : `line ${line + 1}`, lang);
}

/** Items of a list in a sentence. */
export function listOf(items: string[], lang: Lang): string {
  return items.join(lang === 'zh' ? '，' : ', ');
}

/** The engine planner's memory categories (engine/core/planner.h plan_category, stable names). */
const MEMORY_CATEGORIES: Record<string, string> = {
  cuda_context: 'CUDA 上下文', weights: '权重', master_weights: 'fp32 主权重', gradients: '梯度',
  optimizer: '优化器状态', activations: '激活值', recompute: '重算', logits: 'logits', workspace: '工作区',
};

export function memoryCategory(name: string, lang: Lang): string {
  return lang === 'zh' ? MEMORY_CATEGORIES[name] ?? name : name;
}

export const TRAINER_NAMES: Record<string, Record<Lang, string>> = {
  peft: { en: 'RWKV-PEFT (newest)', zh: 'RWKV-PEFT(新版)' },
  'peft-legacy': { en: 'RWKV-PEFT (older)', zh: 'RWKV-PEFT(旧版)' },
  'lm-v7': { en: 'RWKV-LM v7 pretraining', zh: 'RWKV-LM v7 预训练' },
};
