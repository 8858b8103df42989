// Chinese for the diagnostics' messages and quick-fix titles, applied where findings become LSP
// diagnostics (convert.ts), so the checks, the fixtures and the English text stay as they are.
// Each entry matches one English message form of its code; the captured parameters (flag names,
// numbers, paths, values) are put into the Chinese sentence unchanged; phrases inside them that are
// English (RWKV005's reasons, the trainer reasons, the engine's refusals and hints that RWKV026
// quotes) go through their own tables below. A message no entry matches stays English. Left English
// on purpose: argparse's and Python's own error text ("argparse: unrecognized arguments",
// "TypeError: ..."), which is what the terminal shows, and the text of other programs passed on
// inside a Chinese frame (the yaml package's parse errors, an engine message or OS error this table
// does not know yet). Terms as the RWKV tutorials write them: 学习率, 显存, 微调, 权重文件, 基底模型.
import { TRAINER_NAMES as EN_TRAINERS } from '../checks/util';
import { TRAINER_NAMES } from './i18n';
import { trainerReason } from '../parse/trainer';

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

/** "(newest)"/"(older)" after a flag and " or " between alternatives, as the RWKV-PEFT forms are named. */
function versions(s: string): string {
  return s.replace(/ \(newest\)/g, '（新版）').replace(/ \(older\)/g, '（旧版）').replace(/ or /g, ' 或 ').replace(/） 或 /g, '）或 ');
}

/** What replaced a 2024 RWKV-PEFT flag: '"r" in --peft_config (newest) or "lora_r" in --lora_config (older)'. */
function settingNow(s: string): string {
  let key = '';
  return s.split(' or ').map((alt) => {
    const m = /^(?:(".*?") in )?(--\S+)(?: \((newest|older)\))?$/.exec(alt);
    if (!m) return versions(alt);
    if (m[1]) key = m[1];
    const ver = m[3] === 'newest' ? '（新版）' : m[3] === 'older' ? '（旧版）' : '';
    return m[1] || key ? `${m[2]}${ver}中的 ${key}` : `${m[2]}${ver}`;
  }).join(' 或 ').replace(/） 或 /g, '）或 ');
}

/** lookalikes.ts describe(): "the typographic quote “ (U+201C)", "U+00A0 (a non-breaking space)". */
function lookalike(s: string): string {
  return s
    .replace(/^the typographic quote (\S+) \((U\+[0-9A-F]{4})\)/, '印刷体引号 $1（$2）')
    .replace(/^(U\+[0-9A-F]{4}) \(a non-breaking space\)/, '$1（不间断空格）')
    .replace(/^(U\+[0-9A-F]{4}) \(a Unicode space\)/, '$1（Unicode 空格）');
}

/** trainer.ts trainerReason(), English → Chinese (built from trainerReason itself, so the two cannot drift). */
const REASONS: [RegExp, (m: string[]) => string][] = [
  ...(['lm-v7', 'peft', 'peft-legacy'] as const).map((t): [RegExp, (m: string[]) => string] => {
    const en = trainerReason({ kind: 'flag', flag: '\u0000', trainer: t }).split('\u0000');
    const zh = trainerReason({ kind: 'flag', flag: '\u0000', trainer: t }, 'zh').split('\u0000');
    return [new RegExp(`^${escape(en[0]!)}(\\S+)${escape(en[1]!)}$`), (m) => `${zh[0]}${m[1]}${zh[1]}`];
  }),
  [/^declared as (\S+)$/, (m) => trainerReason({ kind: 'declared', trainer: m[1] as never }, 'zh')],
  [/^--peft (\S+) is the older RWKV-PEFT's method name$/, (m) => trainerReason({ kind: 'legacyMethod', peft: m[1]! }, 'zh')],
  [new RegExp(`^${escape(trainerReason({ kind: 'legacyForm' }))}$`), () => trainerReason({ kind: 'legacyForm' }, 'zh')],
  [new RegExp(`^${escape(trainerReason({ kind: 'none' }))}$`), () => trainerReason({ kind: 'none' }, 'zh')],
];
function reason(s: string): string {
  for (const [re, zh] of REASONS) { const m = re.exec(s); if (m) return zh(m as unknown as string[]); }
  return s;
}
function escape(s: string): string { return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'); }

/** RWKV005's reasons (rwkv005MissingFlag.ts needs()). */
const WHY: Entry[] = [
  [/^there is no training data$/, () => '没有训练数据'],
  [/^the default 0 \(auto\) only works for character-level \.txt data; (\S+) data needs 65536$/, (m) => `默认值 0（自动）只适用于字符级的 .txt 数据；${m[1]} 数据需要 65536`],
  [/^SFT data needs the fields to train on$/, () => 'SFT 数据需要指定要训练的字段'],
  [/^pretraining on binidx data samples with it \(make_data\.py prints it\)$/, () => '在 binidx 数据上预训练时用它采样（make_data.py 会打印它）'],
  [/^pretraining stops after this many tokens \(make_data\.py prints it\)$/, () => '预训练在这么多 token 之后停止（make_data.py 会打印它）'],
  [/^(--\S+ \S+) fine-tunes a base model$/, (m) => `${m[1]} 要在基底模型上微调`],
  [/^the default (\d+) matches no released model$/, (m) => `默认值 ${m[1]} 不对应任何已发布的模型`],
  [/^the default x052 builds an RWKV-5 model; RWKV-7 models need x070$/, () => '默认值 x052 会构建 RWKV-5 模型；RWKV-7 模型需要 x070'],
];
function missing(list: string): string {
  return list.split(/; (?=--)/).map((item) => {
    const m = /^(--\S+) \((.*)\)$/s.exec(item);
    const why = m ? apply(WHY, m[2]!) : undefined;
    return m && why ? `${m[1]}（${why}）` : item;
  }).join('；');
}

/**
 * The engine's refusals (Facts.checkRun, engine/train/*.cpp EngineError messages and hints) that
 * RWKV026 quotes. The engine's forms are the engine's: the known ones are here; one that is not
 * (a new engine message) stays English inside the Chinese sentence.
 */
const ENGINE: Entry[] = [
  [/^RWKV-6 \(x060\) training is not yet implemented on the GPU: the CUDA backend has no WKV6 kernel yet$/, () => 'GPU 上还不能训练 RWKV-6 (x060)：CUDA 后端还没有 WKV6 kernel'],
  [/^(.+) training is not yet implemented on the GPU$/, (m) => `GPU 上还不能训练 ${m[1]}`],
  [/^head size (\d+) \(the GPU WKV7 kernel is built for 64\) is not yet implemented on the GPU$/, (m) => `GPU 上还不支持头大小 ${m[1]}（GPU 的 WKV7 kernel 按 64 构建）`],
  [/^(ctx_len|chunk_ctx) (\d+) \(the GPU WKV7 kernel needs a multiple of 16\) is not yet implemented on the GPU$/, (m) => `GPU 上还不支持 ${m[1]} ${m[2]}（GPU 的 WKV7 kernel 需要 16 的整数倍）`],
  [/^--quant (\S+) is turned off on the GPU here \(RWKV_CUDA_QUANT=0 in the environment\)$/, (m) => `这里 GPU 上的 --quant ${m[1]} 已关闭（环境变量 RWKV_CUDA_QUANT=0）`],
  [/^DiSHA mode "(.*)" is not supported by this engine$/, (m) => `本引擎不支持 DiSHA 的 "${m[1]}" 模式`],
  [/^MiSS init_weights "(.*)" \(bat\/mini variants\) is not supported by this engine$/, (m) => `本引擎不支持 MiSS 的 init_weights "${m[1]}"（bat/mini 变体）`],
  [/^--loss_mask qa with the magic_prime sampler \(--dataload get\) is not supported by this engine$/, () => '本引擎不支持 --loss_mask qa 与 magic_prime 采样（--dataload get）同时使用'],
  [/^--dataload get without --magic_prime is not supported by this engine$/, () => '本引擎不支持不带 --magic_prime 的 --dataload get'],
  [/^target module '(.*)' is not supported by this engine$/, (m) => `本引擎不支持目标模块 '${m[1]}'`],
  [/^PEFT config (\S+) = (.*) is not supported by this engine$/, (m) => `本引擎不支持 PEFT 设置 ${m[1]} = ${m[2]}`],
  [/^target_modules as a regular expression \((.*)\) is not supported by this engine$/, (m) => `本引擎不支持用正则表达式写 target_modules（${m[1]}）`],
  [/^(--\S+ \S+|init_lora_weights "[^"]*"|miss_dropout > 0) is not supported by this engine$/, (m) => `本引擎不支持 ${m[1]}`],
  [/^--devices (\d+): this build trains on one device$/, (m) => `--devices ${m[1]}：这个构建只在一个设备上训练`],
  [/^--num_nodes (\d+): this build trains on one machine$/, (m) => `--num_nodes ${m[1]}：这个构建只在一台机器上训练`],
  [/^--my_testing (\S+): only RWKV-7 \(x070\) and RWKV-6 \(x060\) are trained by this engine$/, (m) => `--my_testing ${m[1]}：本引擎只训练 RWKV-7 (x070) 和 RWKV-6 (x060)`],
  [/^--my_testing (\S+) with RWKV-LM's flags: its train_temp trains RWKV-7 \(x070\) only$/, (m) => `--my_testing ${m[1]} 与 RWKV-LM 的参数一起使用：它的 train_temp 只训练 RWKV-7 (x070)`],
  [/^--data_type (\S+): RWKV-LM's train\.py trains binidx only$/, (m) => `--data_type ${m[1]}：RWKV-LM 的 train.py 只训练 binidx 数据`],
  [/^--quant (\S+) with full fine-tuning$/, (m) => `--quant ${m[1]} 与全量微调一起使用`],
  [/^--train_type infctx with --data_type sft$/, () => '--train_type infctx 与 --data_type sft 一起使用'],
  [/^state tuning together with --train_type infctx$/, () => 'state tuning 与 --train_type infctx 一起使用'],
  [/^the newest RWKV-PEFT's one-pass epochs \(--peft_config\) are not yet shared among several GPUs$/, () => '新版 RWKV-PEFT 的单遍 epoch（--peft_config）还不能在多张 GPU 之间分担'],
  [/^--(\S+): must be positive$/, (m) => `--${m[1]}：必须为正数`],
];
const ENGINE_HINTS: Entry[] = [
  [/^train this RWKV-6 model with --accelerator cpu \(every PEFT method runs there\), or on the GPU with RWKV-PEFT \((\S+), --my_testing x060\)$/, (m) => `请用 --accelerator cpu 训练这个 RWKV-6 模型（所有 PEFT 方法都能在 CPU 上运行），或在 GPU 上用 RWKV-PEFT 训练（${m[1]}，--my_testing x060）`],
  [/^use --accelerator cpu for this model$/, () => '这个模型请用 --accelerator cpu'],
  [/^train it with --accelerator cpu$/, () => '请用 --accelerator cpu 训练'],
  [/^choose a (ctx_len|chunk_ctx) that is a multiple of 16, or use --accelerator cpu$/, (m) => `请把 ${m[1]} 设为 16 的整数倍，或使用 --accelerator cpu`],
  [/^unset RWKV_CUDA_QUANT, or train with --accelerator cpu \(which quantises as RWKV-PEFT does\)$/, () => '请取消设置 RWKV_CUDA_QUANT，或用 --accelerator cpu 训练（量化方式与 RWKV-PEFT 相同）'],
  [/^use mode "bone" \(MiSS\), which this engine trains$/, () => '请改用本引擎能训练的 "bone" 模式（MiSS）'],
  [/^the balance variant \(init_weights true\) is implemented$/, () => '已实现的是 balance 变体（init_weights true）'],
  [/^use --loss_mask qa for answer-only loss on User:\/Assistant: text$/, () => '对 User:/Assistant: 文本只在回答上计算 loss，请用 --loss_mask qa'],
  [/^a quantised base is frozen: train an adapter \(--peft lora, pissa, miss or state tuning\), or use --quant none$/, () => '量化的基底模型是冻结的：请训练适配器（--peft lora、pissa、miss 或 state tuning），或使用 --quant none'],
  [/^RWKV-PEFT runs them as separate modes: choose one$/, () => 'RWKV-PEFT 把它们当作不同的模式运行：请选其一'],
  [/^model dropout is not implemented; use --dropout 0 \(lora_dropout is supported\)$/, () => '模型 dropout 尚未实现；请用 --dropout 0（lora_dropout 是支持的）'],
  [/^a decaying weight decay is not implemented$/, () => '逐步衰减的 weight decay 尚未实现'],
  [/^a local \.jsonl has one split: use train, or train\[:N\] for its first N rows$/, () => '本地 .jsonl 只有一个 split：请用 train，或用 train[:N] 取前 N 行'],
  [/^use binidx \(make it with `rwkv-train make-data`\), jsonl or sft$/, () => '请用 binidx（用 `rwkv-train make-data` 生成）、jsonl 或 sft'],
  [/^RWKV-PEFT's infctx step trains \(input, target\) batches: use binidx or jsonl data$/, () => 'RWKV-PEFT 的 infctx 训练步使用 (input, target) 批次：请用 binidx 或 jsonl 数据'],
  [/^train on one GPU, or write the script in the older form \(--lora_config \.\.\.\)$/, () => '请在一张 GPU 上训练，或把脚本改成旧版写法（--lora_config ...）'],
  [/^use RWKV-PEFT's flags \(no --train_stage\/--head_size\) for an RWKV-6 model$/, () => 'RWKV-6 模型请用 RWKV-PEFT 的参数（不要 --train_stage/--head_size）'],
  [/^use ((?:--\S+|\S+) \S+(?: or \S+)?)$/, (m) => `请改用 ${m[1]!.replace(/ or /, ' 或 ')}`],
];
function engineText(s: string): string { return apply(ENGINE, s) ?? s; }
function engineHint(s: string): string {
  return apply(ENGINE_HINTS, s[0]!.toLowerCase() + s.slice(1)) ?? s;
}
/** RWKV026: "--accelerator is not in the script, so train.py's default gpu applies; ..." */
function defaultsApply(s: string): string {
  return s.split('; ').map((d) => d.replace(/^(--\S+) is not in the script, so train\.py's default (.*) applies$/, '脚本中没有 $1，因此使用 train.py 的默认值 $2')).join('；');
}

/** jsonc-parser's error codes as objectView.ts words them ("Invalid JSON: comma expected."). */
const JSON_ERRORS: Record<string, string> = {
  'invalid symbol': '无效的符号', 'invalid number format': '无效的数字格式', 'property name expected': '此处应为属性名',
  'value expected': '此处应为值', 'colon expected': '此处应为冒号', 'comma expected': '此处应为逗号',
  'close brace expected': '此处应为 }', 'close bracket expected': '此处应为 ]', 'end of file expected': '此处应为文件结尾',
  'invalid comment token': '无效的注释', 'unexpected end of comment': '注释意外结束', 'unexpected end of string': '字符串意外结束',
  'unexpected end of number': '数字意外结束', 'invalid unicode': '无效的 Unicode 转义', 'invalid escape character': '无效的转义字符',
  'invalid character': '无效的字符',
};
function invalidJson(s: string): string {
  if (s === 'a trailing comma before the closing bracket (json.loads refuses it; remove the comma).') return '右括号前多了一个逗号（json.loads 不接受；请删除这个逗号）。';
  const m = /^(.*)\.$/s.exec(s);
  const zh = m ? JSON_ERRORS[m[1]!] : undefined;
  return zh ? `${zh}。` : s;
}

/**
 * Why the engine addon could not read a checkpoint or dataset (RWKV025): its common forms; the
 * rest (an OS error, a zip reader's detail) is the engine's own text and stays as it is.
 */
const READ_ERRORS: Entry[] = [
  [/^(.*): not a PyTorch checkpoint \(not a zip archive\)$/s, (m) => `${m[1]}：不是 PyTorch 权重文件（不是 zip 压缩包）`],
  [/^not a PyTorch checkpoint: (.*)$/s, (m) => `不是 PyTorch 权重文件：${m[1]}`],
  [/^cannot read (.*)$/s, (m) => `无法读取 ${m[1]}`],
];
function readError(s: string): string { return apply(READ_ERRORS, s) ?? s; }

/** RWKV012's value problems (rwkv012PeftSettings.ts valueProblem). */
const VALUE_PROBLEMS: Entry[] = [
  [/^must be an integer, not (.*)$/s, (m) => `必须是整数，而不是 ${m[1]}`],
  [/^must be a number, not (.*)$/s, (m) => `必须是数字，而不是 ${m[1]}`],
  [/^must be true or false, not (.*)$/s, (m) => `必须是 true 或 false，而不是 ${m[1]}`],
  [/^must be a list of module names$/s, () => '必须是模块名列表'],
  [/^must be one of (.*), or pissa_niter_N \(PiSSA with N subspace iterations\)$/s, (m) => `必须是 ${m[1]} 之一，或 pissa_niter_N（做 N 次子空间迭代的 PiSSA）`],
  [/^must be one of (.*)$/s, (m) => `必须是 ${m[1]} 之一`],
  [/^must be a string$/s, () => '必须是字符串'],
  [/^must be at least (\S+)$/s, (m) => `不能小于 ${m[1]}`],
  [/^must be at most (\S+)$/s, (m) => `不能大于 ${m[1]}`],
];

/** Per code, the message forms that have Chinese (every code has at least one: messagesZh.test.ts). */
export const ZH_MESSAGES: Record<string, Entry[]> = {
  RWKV000: [
    [/^This file has Windows \(CRLF\) line endings: bash reads the CR as part of the line, so the \\ at the end of line (\d+) does not continue the command and the lines after it run as separate commands \(bash: "command not found"\)\. Convert the file to LF\.$/s,
      (m) => `此文件使用 Windows (CRLF) 换行符：bash 会把 CR 当作行内容，第 ${m[1]} 行末尾的 \\ 因此不会续行，后面的行会作为单独的命令运行（bash 报 "command not found"）。请把文件转换为 LF 换行符。`],
    [/^This file has Windows \(CRLF\) line endings: bash reads the CR as part of line (\d+), so its last word ends in a CR character \(train\.py would get "value\\r"\)\. Convert the file to LF\.$/s,
      (m) => `此文件使用 Windows (CRLF) 换行符：bash 会把 CR 当作第 ${m[1]} 行的内容，该行最后一个词会以 CR 字符结尾（train.py 会收到 "value\\r"）。请把文件转换为 LF 换行符。`],
    [/^This file looks binary \(it contains NUL bytes\); it is not checked\.$/s, () => '此文件看起来是二进制文件（含 NUL 字节），不做检查。'],
    [/^Invalid JSON: (.*)$/s, (m) => `JSON 无效：${invalidJson(m[1]!)}`],
    [/^Unterminated (single|double) quote: the rest of the file is inside it\.$/s, (m) => `${m[1] === 'single' ? '单' : '双'}引号没有闭合：文件的其余部分都在引号里。`],
    [/^Unterminated (\$\{\.\.\.\}|\$\( \.\.\. \))\.$/s, (m) => `${m[1]} 没有闭合。`],
    [/^Unterminated \$'\.\.\.' quote\.$/s, () => "$'...' 引号没有闭合。"],
    [/^Unterminated backquote\.$/s, () => '反引号没有闭合。'],
    [/^This (if|case) has no (fi|esac): bash stops with a syntax error before running anything\.$/s, (m) => `这个 ${m[1]} 没有对应的 ${m[2]}：bash 会在运行任何命令之前报语法错误并停止。`],
    [/^Expected a JSON object \(\{\.\.\.\}\)\.$/s, () => '应为 JSON 对象（{...}）。'],
    [/^This script has (\S+) million characters; only its first (\S+) million are checked\.$/s, (m) => `此脚本有 ${m[1]} 百万个字符；只检查前 ${m[2]} 百万个。`],
    [/^Internal parser error: (.*)$/s, (m) => `解析器内部错误：${m[1]}`],
    [/^Cannot parse: (.*)$/s, (m) => `无法解析：${m[1]}`],
    // the YAML library's own error text (structuredConfig.ts passes it on as it is): a Chinese frame
    // around it; its many forms are the library's and stay English
    [/^(.*)$/s, (m) => `无法解析：${m[1]}`],
  ],
  RWKV001: [
    [/^Unknown flag --(\S+); did you mean --(\S+)\?$/s, (m) => `未知参数 --${m[1]}；是否想写 --${m[2]}？`],
    [/^Unknown flag --(\S+)\.$/s, (m) => `未知参数 --${m[1]}。`],
    [/^--(\S+) is no longer a train\.py flag; use nothing: LISA was removed from RWKV-PEFT\.$/s, (m) => `--${m[1]} 已不是 train.py 的参数：RWKV-PEFT 已移除 LISA，没有替代的参数。`],
    [/^--(\S+) is no longer a train\.py flag; use (.*)\.$/s, (m) => `--${m[1]} 已不是 train.py 的参数；请改用 ${versions(m[2]!.replace(/ \(older RWKV-PEFT, (--peft \S+)\)/, '（旧版 RWKV-PEFT，$1）'))}。`],
    [/^--(\S+) is argparse's abbreviation of --(\S+) \(train\.py accepts any unique prefix\); writing it in full keeps it valid if a later train.py adds a flag with the same start\.$/s,
      (m) => `--${m[1]} 是 argparse 对 --${m[2]} 的缩写（train.py 接受任何唯一前缀）；写全名可以避免以后的 train.py 新增同样开头的参数时失效。`],
    [/^--(\S+) is ambiguous for (.+?)'s train\.py \(argparse: ([^()]*)\)(?: \((--\S+) is a flag of (.+), not of (.+?): (.*)\))?\.$/s,
      (m) => `--${m[1]} 对 ${trainer(m[2]!)} 的 train.py 有歧义（argparse: ${m[3]}）${m[4] ? `（${m[4]} 是 ${trainers(m[5]!)} 的参数，不属于 ${trainer(m[6]!)}：${reason(m[7]!)}）` : ''}。`],
    [/^--lora is the switch of the 2024 RWKV-PEFT; (.+)'s train\.py has no such switch \(argparse reads --lora as --lora_config, which needs a JSON value\)\. Write (.*)\.$/s,
      (m) => `--lora 是 2024 年版 RWKV-PEFT 的开关；${trainer(m[1]!)} 的 train.py 没有这个开关（argparse 会把 --lora 读成 --lora_config，而它需要一个 JSON 值）。请写 ${versions(m[2]!)}。`],
    [/^--help makes train\.py print its options and exit without training\.$/s, () => '--help 会让 train.py 打印参数列表后退出，不会训练。'],
    [/^--(\S+) is a Lightning Trainer argument that this train\.py accepts \(Trainer\.add_argparse_args\), but RWKV Studio does not check it and the native engine does not take it\.$/s,
      (m) => `--${m[1]} 是这个 train.py 接受的 Lightning Trainer 参数（Trainer.add_argparse_args），但 RWKV Studio 不检查它，原生引擎也不接受它。`],
    [/^--(\S+) holds (.*) where a space belongs: bash splits words only at plain spaces and tabs, so train\.py gets one unknown option \(argparse: unrecognized arguments\)\.$/s,
      (m) => `--${m[1]} 在应为空格的位置含有 ${lookalike(m[2]!)}：bash 只在普通空格和制表符处分词，因此 train.py 会收到一个未知选项（argparse: unrecognized arguments）。`],
    [/^--(\S+) holds (.*), which is no shell quote: bash keeps it inside the word, so train\.py gets an unknown option \(argparse: unrecognized arguments\)\.$/s,
      (m) => `--${m[1]} 含有 ${lookalike(m[2]!)}，它不是 shell 的引号：bash 会把它留在词里，因此 train.py 会收到一个未知选项（argparse: unrecognized arguments）。`],
    [/^--(\S+) is a flag of the 2024 RWKV-PEFT, which (.+)'s train\.py no longer has \(argparse: unrecognized arguments\); the setting is now (.*)\.$/s,
      (m) => `--${m[1]} 是 2024 年版 RWKV-PEFT 的参数，${trainer(m[2]!)} 的 train.py 已没有这个参数（argparse: unrecognized arguments）；这项设置现在是 ${settingNow(m[3]!)}。`],
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
    [/^--(\S+) is a switch and takes no value; write just --(\S+) \(argparse: ignored explicit argument\)\.$/s, (m) => `--${m[1]} 是开关，不接受值；只写 --${m[2]} 即可（argparse: ignored explicit argument）。`],
    [/^argparse reads "(.*)" as an option, not as the value of --(\S+) \(only plain negative numbers such as -1 or -0\.5 are values\); write (\S+) \(argparse: expected one argument\)\.$/s,
      (m) => `argparse 会把 "${m[1]}" 当作选项，而不是 --${m[2]} 的值（只有 -1、-0.5 这样的普通负数才算值）；请写 ${m[3]}（argparse: expected one argument）。`],
    [/^The value of --(\S+) holds (.*?)( \(and (\d+) more\))?, which is no shell quote: bash keeps it, so train\.py gets "(.*)"\.$/s,
      (m) => `--${m[1]} 的值含有 ${lookalike(m[2]!)}${m[3] ? `（另有 ${m[4]} 个）` : ''}，它不是 shell 的引号：bash 会保留它，因此 train.py 收到的是 "${m[5]}"。`],
    [/^The value of --(\S+) holds (.*?)( \(and (\d+) more\))?, which bash does not split words at: train\.py gets "(.*)"\.$/s,
      (m) => `--${m[1]} 的值含有 ${lookalike(m[2]!)}${m[3] ? `（另有 ${m[4]} 个）` : ''}，bash 不会在那里分词：train.py 收到的是 "${m[5]}"。`],
  ],
  RWKV003: [
    [/^--(\S+) is a flag of (.+), not of (.+?) \((.*)\)\.$/s, (m) => `--${m[1]} 是 ${trainers(m[2]!).replace(/ and /g, ' 和 ')} 的参数，不属于 ${trainer(m[3]!)}（${reason(m[4]!)}）。`],
  ],
  RWKV004: [
    [/^"(.*)" after train\.py belongs to no flag \(argparse: unrecognized arguments\)\.$/s, (m) => `train.py 后面的 "${m[1]}" 不属于任何参数（argparse: unrecognized arguments）。`],
    [/^--(\S+) is a switch and takes no value, so "(.*)" is an extra argument \(argparse: unrecognized arguments\)\.$/s, (m) => `--${m[1]} 是开关，不接受值，因此 "${m[2]}" 是多余的参数（argparse: unrecognized arguments）。`],
    [/^Unquoted \$(\S+) contains spaces, so the shell splits it and train\.py gets "(.*)" as an extra argument; write "\$(\S+)"\.$/s,
      (m) => `未加引号的 $${m[1]} 含有空格，shell 会把它拆开，train.py 会把 "${m[2]}" 当作多余的参数；请写成 "$${m[3]}"。`],
  ],
  RWKV005: [
    [/^Missing (.*?)(?:, unless (.*) gives (?:it|them) when the script runs)?\.$/s,
      (m) => `缺少 ${missing(m[1]!)}${m[2] ? `，除非运行脚本时由 ${m[2].replace(/, /g, '、')} 提供` : ''}。`],
    [/^The train\.py command ends at line (\d+): that line has no trailing \\, so bash runs line (\d+) \((.*) \.\.\.\) as a separate command \("command not found"\) and its flags never reach train\.py(?:; train\.py therefore misses (.*?))?\.( The script has set -e, so that failure stops it there: no command after it runs, the train\.py calls below included\.)?$/s,
      (m) => `train.py 命令在第 ${m[1]} 行就结束了：该行末尾没有 \\，bash 会把第 ${m[2]} 行（${m[3]} ...）当作单独的命令运行（"command not found"），其中的参数传不到 train.py${m[4] ? `；因此 train.py 缺少 ${m[4]}` : ''}。${m[5] ? '脚本设置了 set -e，这个失败会让脚本停在那里：之后的命令都不会运行，包括下面的 train.py 调用。' : ''}`],
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
    [/^"(.*)" is not a setting of (--\S+(?: \S+)?)\. Known: (.*)\.$/s, (m) => `"${m[1]}" 不是 ${m[2]} 的设置项。可用的设置项：${m[3] === '(none)' ? '（无）' : m[3]}。`],
    [/^"(.*)" is not a setting of (--\S+(?: \S+)?)\.$/s, (m) => `"${m[1]}" 不是 ${m[2]} 的设置项。`],
    [/^"target_modules" cannot be set in (.+)'s settings: the newest RWKV-PEFT's train\.py passes (target_modules=\S+) itself, so a second one stops it at start-up \((TypeError: .*)\)\.$/s,
      (m) => `${m[1]} 的设置里不能写 "target_modules"：新版 RWKV-PEFT 的 train.py 会自己传入 ${m[2]}，再写一个会让它在启动时出错（${m[3]}）。`],
    [/^(--\S+) lacks (.*); the older RWKV-PEFT reads every key \(KeyError otherwise\)\.$/s, (m) => `${m[1]} 缺少 ${m[2]}；旧版 RWKV-PEFT 会读取每一个键（否则报 KeyError）。`],
    [/^(--\S+) is not used with (--\S+ \S+)\.$/s, (m) => `${m[1]} 在 ${m[2]} 下不会被使用。`],
    [/^(--\S+): Invalid JSON: (.*)$/s, (m) => `${m[1]}：JSON 无效：${invalidJson(m[2]!)}`],
    [/^(--\S+): train\.py gets (.*), with no double quotes: bash removes quotes that are not inside single quotes, so json\.loads fails \(invalid JSON\)\. Put the whole JSON in single quotes: (.*)\.$/s,
      (m) => `${m[1]}：train.py 收到的是 ${m[2]}，没有双引号：bash 会去掉不在单引号里的引号，因此 json.loads 会失败（JSON 无效）。请把整个 JSON 放进单引号：${m[3]}。`],
    [/^(--\S+): the backslashes before \{ and \} reach train\.py \(the shell keeps them inside single quotes\), so json\.loads fails\. This form comes from rendered tutorial text; write '\{\.\.\.\}'\.$/s,
      (m) => `${m[1]}：{ 和 } 前面的反斜杠会传给 train.py（shell 在单引号里保留它们），因此 json.loads 会失败。这种写法来自渲染后的教程文本；请写成 '{...}'。`],
    [/^(--\S+): Expected a JSON object \(\{\.\.\.\}\)\.$/s, (m) => `${m[1]}：应为 JSON 对象（{...}）。`],
    [/^"(.*)" (must .*)\.$/s, (m) => { const p = apply(VALUE_PROBLEMS, m[2]!); return p ? `"${m[1]}" ${p}。` : `"${m[1]}" ${m[2]}.`; }],
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
    [/^--(\S+) has no effect with (--\S+ \S+)\.$/s, (m) => `--${m[1]} 在 ${m[2]} 下不起作用。`],
    [/^--(\S+) \(older RWKV-PEFT form\) together with --peft_config \(newest form\): each version reads only its own, so one of them is ignored\.$/s,
      (m) => `--${m[1]}（旧版 RWKV-PEFT 写法）与 --peft_config（新版写法）同时出现：每个版本只读取自己的写法，所以其中一个会被忽略。`],
    [/^--peft (\S+) with --peft_config: the newest RWKV-PEFT has no (\S+) method; use --peft lora with "init_lora_weights":"pissa" in --peft_config, or the older --pissa_config form\.$/s,
      (m) => `--peft ${m[1]} 与 --peft_config 一起使用：新版 RWKV-PEFT 没有 ${m[2]} 方法；请用 --peft lora 并在 --peft_config 里写 "init_lora_weights":"pissa"，或使用旧版的 --pissa_config 写法。`],
    [/^--peft (\S+) with --peft_config: the newest RWKV-PEFT has no (\S+) method; use (.*)\.$/s,
      (m) => `--peft ${m[1]} 与 --peft_config 一起使用：新版 RWKV-PEFT 没有 ${m[2]} 方法；请改用 ${m[3]}。`],
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
    [/^magic_prime should be (\d+) for (\d+) tokens at ctx_len (\d+) \(largest prime p ≡ 2 mod 3 with p ≤ (\d+)\); got (\S+)\.( RWKV-LM's dataset\.py stops on it: it asserts (.*)\.)?$/s,
      (m) => `magic_prime 应为 ${m[1]}（${m[2]} 个 token、ctx_len ${m[3]} 时，满足 p ≡ 2 mod 3 且 p ≤ ${m[4]} 的最大质数）；当前为 ${m[5]}。${m[6] ? `RWKV-LM 的 dataset.py 会因此停止：它断言 ${m[7]}。` : ''}`],
    [/^The dataset has (\d+) tokens, fewer than 3 × ctx_len (\d+): make_data\.py finds no magic_prime\.$/s,
      (m) => `数据集只有 ${m[1]} 个 token，少于 3 × ctx_len ${m[2]}：make_data.py 找不到 magic_prime。`],
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
    [/^Cannot read the checkpoint: (.*)$/s, (m) => `无法读取权重文件：${readError(m[1]!)}`],
    [/^Cannot read the dataset: (.*)$/s, (m) => `无法读取数据集：${readError(m[1]!)}`],
  ],
  RWKV026: [
    // rwkv026EngineSupport.ts: `${where} cannot run this as written: ${engine message}${ (defaults)}.${ Hint.} train.py itself accepts it.`
    [/^(Run Training \(the bundled engine\)|Run Training's GPU engine) cannot run this as written: (.*?)(?: \((--\S+ is not in the script, so train\.py's default .*? applies)\))?\.(?: ([A-Z].*?)\.)? train\.py itself accepts it\.$/s,
      (m) => `${m[1]!.startsWith("Run Training's") ? 'Run Training 的 GPU 引擎' : 'Run Training（内置引擎）'}无法按现有写法运行：${engineText(m[2]!)}${m[3] ? `（${defaultsApply(m[3])}）` : ''}。${m[4] ? `${engineHint(m[4])}。` : ''}train.py 本身接受这种写法。`],
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
  [/^Set (\S+) to (\S+) \(from the dataset\)$/s, (m) => `将 ${m[1]} 设为 ${m[2]}（来自数据集）`],
  [/^Set (\S+) to (\S+) \((.*)\)$/s, (m) => `将 ${m[1]} 设为 ${m[2]}（${m[3]}）`],
  [/^Set (\S+) to (.*)$/s, (m) => `将 ${m[1]} 设为 ${m[2]}`],
  [/^Add \\ at the end of line (\d+)$/s, (m) => `在第 ${m[1]} 行末尾加上 \\`],
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
  [/^(--\S+) is given here$/s, (m) => `${m[1]} 在这里给出`],
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
