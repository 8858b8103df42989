// Chinese for the diagnostics' messages and quick-fix titles, applied where findings become LSP
// diagnostics (convert.ts), so the checks, the fixtures and the English text stay as they are.
// Each entry matches one English message form of its code; the captured parameters (flag names,
// numbers, paths, values) are put into the Chinese sentence unchanged. A message no entry
// matches stays English. Terms as the RWKV tutorials write them: 学习率, 显存, 微调, 权重文件.
import { TRAINER_NAMES as EN_TRAINERS } from '../checks/util';
import { TRAINER_NAMES } from './i18n';

type Entry = [RegExp, (m: string[]) => string];

/** "the newest RWKV-PEFT" as the messages say it → "RWKV-PEFT(新版)". */
function trainer(en: string): string {
  for (const [k, v] of Object.entries(EN_TRAINERS)) if (v === en) return TRAINER_NAMES[k]!.zh;
  return en;
}
/** Trainer names anywhere inside a captured phrase. */
function trainers(s: string): string {
  let out = s;
  for (const [k, v] of Object.entries(EN_TRAINERS)) out = out.split(v).join(TRAINER_NAMES[k]!.zh);
  return out;
}

/** Per code, the message forms that have Chinese (every code has at least one: messagesZh.test.ts). */
export const ZH_MESSAGES: Record<string, Entry[]> = {
  RWKV000: [
    [/^This file has Windows \(CRLF\) line endings: bash reads the CR as part of the line, so the \\ at the end of line (\d+) does not continue the command and the lines after it run as separate commands \(bash: "command not found"\)\. Convert the file to LF\.$/s,
      (m) => `此文件使用 Windows (CRLF) 换行符：bash 会把 CR 当作行内容，第 ${m[1]} 行末尾的 \\ 因此不会续行，后面的行会作为单独的命令运行（bash 报 "command not found"）。请把文件转换为 LF 换行符。`],
    [/^This file has Windows \(CRLF\) line endings: bash reads the CR as part of line (\d+), so its last word ends in a CR character \(train\.py would get "value\\r"\)\. Convert the file to LF\.$/s,
      (m) => `此文件使用 Windows (CRLF) 换行符：bash 会把 CR 当作第 ${m[1]} 行的内容，该行最后一个词会以 CR 字符结尾（train.py 会收到 "value\\r"）。请把文件转换为 LF 换行符。`],
    [/^This file looks binary \(it contains NUL bytes\); it is not checked\.$/s, () => '此文件看起来是二进制文件（含 NUL 字节），不做检查。'],
    [/^Invalid JSON: (.*)$/s, (m) => `JSON 无效：${m[1]}`],
  ],
  RWKV001: [
    [/^Unknown flag --(\S+); did you mean --(\S+)\?$/s, (m) => `未知参数 --${m[1]}；是否想写 --${m[2]}？`],
    [/^Unknown flag --(\S+)\.$/s, (m) => `未知参数 --${m[1]}。`],
    [/^--(\S+) is no longer a train\.py flag; use (.*)\.$/s, (m) => `--${m[1]} 已不是 train.py 的参数；请改用 ${m[2]}。`],
    [/^--(\S+) is argparse's abbreviation of --(\S+) \(train\.py accepts any unique prefix\); writing it in full keeps it valid if a later train.py adds a flag with the same start\.$/s,
      (m) => `--${m[1]} 是 argparse 对 --${m[2]} 的缩写（train.py 接受任何唯一前缀）；写全名可以避免以后的 train.py 新增同样开头的参数时失效。`],
    [/^--(\S+) is ambiguous for (.+)'s train\.py \(argparse: (.*)\)\.$/s, (m) => `--${m[1]} 对 ${trainer(m[2]!)} 的 train.py 有歧义（argparse: ${m[3]}）。`],
    [/^--(\S+) is a flag of the 2024 RWKV-PEFT, which (.+)'s train\.py no longer has \(argparse: unrecognized arguments\); the setting is now (.*)\.$/s,
      (m) => `--${m[1]} 是 2024 年版 RWKV-PEFT 的参数，${trainer(m[2]!)} 的 train.py 已没有这个参数（argparse: unrecognized arguments）；这项设置现在是 ${m[3]}。`],
  ],
  RWKV002: [
    [/^"(.*)" is not a value of --(\S+); expected one of: (.*)\. Did you mean (.*)\?$/s, (m) => `"${m[1]}" 不是 --${m[2]} 的可选值；可选值为：${m[3]}。是否想写 ${m[4]}？`],
    [/^"(.*)" is not a value of --(\S+); expected one of: (.*)\.$/s, (m) => `"${m[1]}" 不是 --${m[2]} 的可选值；可选值为：${m[3]}。`],
    [/^--(\S+) takes an integer; "(.*)" is not one \(argparse: invalid int value\)\.$/s, (m) => `--${m[1]} 需要整数，"${m[2]}" 不是整数（argparse: invalid int value）。`],
    [/^--(\S+) takes a number; "(.*)" is not one \(argparse: invalid float value\)\.$/s, (m) => `--${m[1]} 需要数字，"${m[2]}" 不是数字（argparse: invalid float value）。`],
    [/^--(\S+) needs a value \(argparse: expected one argument\)\.$/s, (m) => `--${m[1]} 需要一个值（argparse: expected one argument）。`],
    [/^--(\S+) needs values \(argparse: expected at least one argument\)\.$/s, (m) => `--${m[1]} 需要至少一个值（argparse: expected at least one argument）。`],
    [/^--(\S+) must be at least (\S+); got (.*)\.$/s, (m) => `--${m[1]} 不能小于 ${m[2]}；当前为 ${m[3]}。`],
    [/^--(\S+) must be at most (\S+); got (.*)\.$/s, (m) => `--${m[1]} 不能大于 ${m[2]}；当前为 ${m[3]}。`],
    [/^--(\S+) is a 0\/1 switch; (.*) is treated as on\.$/s, (m) => `--${m[1]} 是 0/1 开关；${m[2]} 会被当作开启。`],
  ],
  RWKV003: [
    [/^--(\S+) is a flag of (.+), not of (.+?) \((.*)\)\.$/s, (m) => `--${m[1]} 是 ${trainers(m[2]!)} 的参数，不属于 ${trainer(m[3]!)}（${trainers(m[4]!)}）。`],
  ],
  RWKV004: [
    [/^"(.*)" after train\.py belongs to no flag \(argparse: unrecognized arguments\)\.$/s, (m) => `train.py 后面的 "${m[1]}" 不属于任何参数（argparse: unrecognized arguments）。`],
    [/^--(\S+) is a switch and takes no value, so "(.*)" is an extra argument \(argparse: unrecognized arguments\)\.$/s, (m) => `--${m[1]} 是开关，不接受值，因此 "${m[2]}" 是多余的参数（argparse: unrecognized arguments）。`],
    [/^Unquoted \$(\S+) contains spaces, so the shell splits it and train\.py gets "(.*)" as an extra argument; write "\$(\S+)"\.$/s,
      (m) => `未加引号的 $${m[1]} 含有空格，shell 会把它拆开，train.py 会把 "${m[2]}" 当作多余的参数；请写成 "$${m[3]}"。`],
  ],
  RWKV005: [
    [/^Missing (.*)\.$/s, (m) => `缺少 ${m[1]}。`],
  ],
  RWKV006: [
    [/^--(n_layer|n_embd) is (\d+), but the (.+) model named in load_model has (n_layer|n_embd) (\d+)\.$/s, (m) => `--${m[1]} 为 ${m[2]}，但 load_model 文件名所示的 ${m[3]} 模型的 ${m[4]} 为 ${m[5]}。`],
  ],
  RWKV007: [
    [/^--(n_layer|n_embd) is (\d+), but the checkpoint has (n_layer|n_embd) (\d+) \((.*)\)\.$/s,
      (m) => `--${m[1]} 为 ${m[2]}，但权重文件的 ${m[3]} 为 ${m[4]}（${m[5]!.replace(/ layers × /, ' 层 × ')}）。`],
  ],
  RWKV008: [
    [/^--vocab_size is (\d+), but the checkpoint's embedding has (\d+) rows\.$/s, (m) => `--vocab_size 为 ${m[1]}，但权重文件的 embedding 有 ${m[2]} 行。`],
  ],
  RWKV009: [
    [/^--my_testing is (\S+), but the checkpoint is an (\S+) \((RWKV-\d)\) model\.$/s, (m) => `--my_testing 为 ${m[1]}，但权重文件是 ${m[2]}（${m[3]}）模型。`],
  ],
  RWKV010: [
    [/^--data_file is a binidx prefix: write "(.*)" without "(\.bin|\.idx)" \(train\.py adds \.bin and \.idx itself\)\.$/s,
      (m) => `--data_file 应为 binidx 前缀：请写 "${m[1]}"，不带 "${m[2]}"（train.py 会自己加上 .bin 和 .idx）。`],
  ],
  RWKV011: [
    [/^(\S+): (.*) (?:does|do) not exist \(resolved from (.*)\)\.$/s, (m) => `${m[1]}：${m[2]!.replace(/ and /g, ' 和 ')} 不存在（相对于 ${m[3]} 解析）。`],
    [/^load_model: (.*) is a folder; give the \.pth file\.$/s, (m) => `load_model：${m[1]} 是文件夹；请给出 .pth 文件。`],
  ],
  RWKV012: [
    [/^"(.*)" is not a setting of (--\S+(?: \S+)?); did you mean "(.*)"\?$/s, (m) => `"${m[1]}" 不是 ${m[2]} 的设置项；是否想写 "${m[3]}"？`],
    [/^"(.*)" is not a setting of (--\S+(?: \S+)?)\.$/s, (m) => `"${m[1]}" 不是 ${m[2]} 的设置项。`],
    [/^"(.*)" must be a number, not (.*)\.$/s, (m) => `"${m[1]}" 必须是数字，而不是 ${m[2]}。`],
  ],
  RWKV013: [
    [/^lora_alpha (\S+) is (\S+) × (\S+) (\S+); about 2 × (\S+) \((\S+)\) is the usual choice\.$/s,
      (m) => `lora_alpha ${m[1]} 是 ${m[3]} ${m[4]} 的 ${m[2]} 倍；通常取约 2 × ${m[5]}（${m[6]}）。`],
  ],
  RWKV014: [
    [/^(\S+) should train with a learning rate of at most 1e-4 \(2e-5 suggested\); here (.*?)( \(the default, since --lr_init is not given\))?\.$/s,
      (m) => `${m[1]} 微调的学习率应不超过 1e-4（建议 2e-5）；当前为 ${m[2]}${m[3] ? '（默认值，因为没有给出 --lr_init）' : ''}。`],
  ],
  RWKV015: [
    [/^--(\S+) has no effect with --peft (\S+)\.$/s, (m) => `--${m[1]} 在 --peft ${m[2]} 下不起作用。`],
    [/^--(\S+) is the older switch for --(\S+) (\S+); give only --(\S+)\.$/s, (m) => `--${m[1]} 是 --${m[2]} ${m[3]} 的旧写法；只写 --${m[4]} 即可。`],
  ],
  RWKV016: [
    [/^lr_final (\S+) is above lr_init (\S+): the learning rate would rise during training\.$/s, (m) => `lr_final ${m[1]} 高于 lr_init ${m[2]}：训练过程中学习率会上升。`],
  ],
  RWKV017: [
    [/^n_embd (\d+) is not a multiple of the head size (\d+) \(nearest: (\d+) or (\d+)\)\.$/s, (m) => `n_embd ${m[1]} 不是头大小 ${m[2]} 的整数倍（最接近的是 ${m[3]} 或 ${m[4]}）。`],
  ],
  RWKV018: [
    [/^Pretraining ctx_len (\d+) is not a multiple of (\d+): RWKV-LM's WKV7 kernel asserts ctx_len % \d+ == 0\.( Run Training's CPU backend trains it; RWKV-LM's train\.py would not\.)?$/s,
      (m) => `预训练的 ctx_len ${m[1]} 不是 ${m[2]} 的整数倍:RWKV-LM 的 WKV7 内核断言 ctx_len % ${m[2]} == 0。${m[3] ? 'Run Training 的 CPU 后端可以训练它,RWKV-LM 的 train.py 不能。' : ''}`],
  ],
  RWKV019: [
    [/^magic_prime (\d+) is not prime\.$/s, (m) => `magic_prime ${m[1]} 不是质数。`],
    [/^magic_prime (\d+) is prime but (\d+) % 3 = (\d), not 2\.$/s, (m) => `magic_prime ${m[1]} 是质数，但 ${m[2]} % 3 = ${m[3]}，不是 2。`],
  ],
  RWKV020: [
    [/^my_exit_tokens is (\d+), but the dataset has (\d+) tokens\.$/s, (m) => `my_exit_tokens 为 ${m[1]}，但数据集有 ${m[2]} 个 token。`],
  ],
  RWKV021: [
    [/^This run needs about (\S+) GB per GPU \((.*)\), more than GPU (\d+) \((.*), (\S+) GB\) has\. Lower micro_bsz or ctx_len, or set --grad_cp 1\.$/s,
      (m) => `此次训练每张 GPU 约需 ${m[1]} GB 显存（${m[2]}），超过 GPU ${m[3]}（${m[4]}，${m[5]} GB）的显存。请调小 micro_bsz 或 ctx_len，或设置 --grad_cp 1。`],
    [/^This run needs about (\S+) GB per GPU \((.*)\), close to GPU (\d+)'s (\S+) GB\.$/s, (m) => `此次训练每张 GPU 约需 ${m[1]} GB 显存（${m[2]}），接近 GPU ${m[3]} 的 ${m[4]} GB。`],
  ],
  RWKV022: [
    [/^Checkpoint, dataset, GPU and memory checks are off: engine addon not available\.$/s, () => '权重文件、数据集、GPU 和显存检查已关闭：引擎插件不可用。'],
    [/^Checkpoint, dataset, GPU and memory checks are off: (.*)\.$/s, (m) => `权重文件、数据集、GPU 和显存检查已关闭：${m[1]}。`],
  ],
  RWKV023: [
    [/^--(\S+) is given again later; train\.py uses the last one \((.*)\)\.$/s, (m) => `--${m[1]} 在后面又出现了一次；train.py 使用最后一次的值（${m[2]}）。`],
    [/^--(\S+) is given again later; train\.py uses the last one\.$/s, (m) => `--${m[1]} 在后面又出现了一次；train.py 使用最后一次的值。`],
  ],
  RWKV024: [
    [/^\$(\S+) is not set in this script( \(did you mean \$(\S+)\?\))?; --(\S+) cannot be checked\.$/s,
      (m) => `脚本中没有设置 $${m[1]}${m[2] ? `（是否想写 $${m[3]}？）` : ''}；无法检查 --${m[4]}。`],
    [/^\$(\S+) is not set in this script( \(did you mean \$(\S+)\?\))?; unless the environment sets it, (\S+) gets nothing there( for (\S+))?\.$/s,
      (m) => `脚本中没有设置 $${m[1]}${m[2] ? `（是否想写 $${m[3]}？）` : ''}；除非环境变量设置了它，${m[4]} 在这里${m[5] ? `的 ${m[6]} ` : ''}得到的是空值。`],
  ],
  RWKV025: [
    [/^Cannot read the checkpoint: (.*)$/s, (m) => `无法读取权重文件：${m[1]}`],
    [/^Cannot read the dataset: (.*)$/s, (m) => `无法读取数据集：${m[1]}`],
  ],
  RWKV026: [
    [/^Run Training \(the bundled engine\) cannot run this as written: (.*) train\.py itself accepts it\.$/s, (m) => `Run Training（内置引擎）无法按现有写法运行：${m[1]} train.py 本身接受这种写法。`],
    [/^Run Training's GPU engine cannot run this as written: (.*)$/s, (m) => `Run Training 的 GPU 引擎无法按现有写法运行：${m[1]}`],
  ],
  RWKV027: [
    [/^RWKV-LM's mini-epoch is 40320 samples: real_bsz = micro_bsz × devices × num_nodes = (.*) does not divide it \((.*)\), so train\.py stops at start-up \(assert epoch_steps \* real_bsz == 40320\)\.$/s,
      (m) => `RWKV-LM 的 mini-epoch 为 40320 个样本：real_bsz = micro_bsz × devices × num_nodes = ${m[1]}，不能整除 40320（${m[2]}），train.py 启动时就会停止（assert epoch_steps * real_bsz == 40320）。`],
  ],
};

/** Quick-fix titles (any code). */
const ZH_TITLES: Entry[] = [
  [/^Rename to (.*)$/s, (m) => `重命名为 ${m[1]}`],
  [/^Change to (.*)$/s, (m) => `改为 ${m[1]}`],
  [/^Write (.*)$/s, (m) => `改写为 ${m[1]}`],
  [/^Set (\S+) to (.*)$/s, (m) => `将 ${m[1]} 设为 ${m[2]}`],
  [/^Take n_layer (\d+) and n_embd (\d+) from the checkpoint$/s, (m) => `使用权重文件中的 n_layer ${m[1]} 和 n_embd ${m[2]}`],
  [/^Convert line endings to LF$/s, () => '把换行符转换为 LF'],
  [/^Remove the (\.bin|\.idx) suffix$/s, (m) => `去掉 ${m[1]} 后缀`],
  [/^Quote (\$\S+)$/s, (m) => `给 ${m[1]} 加上引号`],
  [/^Lower the learning rate to (.*)$/s, (m) => `把学习率降到 ${m[1]}`],
  [/^Add(.*)$/s, (m) => `添加${m[1]}`],
  [/^Replace with plain quotes$/s, () => '替换为普通引号'],
  [/^Replace with a plain quote$/s, () => '替换为普通引号'],
  [/^Replace with plain spaces$/s, () => '替换为普通空格'],
  [/^Replace with a plain space$/s, () => '替换为普通空格'],
];

/** Messages of related locations ("used here"). */
const ZH_RELATED: Entry[] = [
  [/^\$(\S+) is used here$/s, (m) => `此处使用了 $${m[1]}`],
  [/^bash runs this line as its own command$/s, () => 'bash 会把这一行当作单独的命令运行'],
  [/^the value train\.py uses$/s, () => 'train.py 实际使用的值'],
];

function apply(entries: Entry[] | undefined, text: string): string | undefined {
  if (!entries) return undefined;
  for (const [re, zh] of entries) {
    const m = re.exec(text);
    if (m) return zh(m as unknown as string[]);
  }
  return undefined;
}

/** The message in Chinese when a table entry matches it, else as it is. */
export function zhMessage(code: string, message: string): string {
  return apply(ZH_MESSAGES[code], message) ?? message;
}

/** A quick fix's title in Chinese when a table entry matches it, else as it is. */
export function zhTitle(title: string): string {
  return apply(ZH_TITLES, title) ?? title;
}

/** A related location's message in Chinese when a table entry matches it, else as it is. */
export function zhRelated(message: string): string {
  return apply(ZH_RELATED, message) ?? message;
}
