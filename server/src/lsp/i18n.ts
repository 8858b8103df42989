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
} as const;

export function t(word: keyof typeof WORDS, lang: Lang): string { return WORDS[word][lang]; }

export const TRAINER_NAMES: Record<string, Record<Lang, string>> = {
  peft: { en: 'RWKV-PEFT (newest)', zh: 'RWKV-PEFT(新版)' },
  'peft-legacy': { en: 'RWKV-PEFT (older)', zh: 'RWKV-PEFT(旧版)' },
  'lm-v7': { en: 'RWKV-LM v7 pretraining', zh: 'RWKV-LM v7 预训练' },
};
