// A shell script as training runs: walks the lexed commands in order, keeps the variables
// (assignments, export, unset, env prefixes), follows `cd`, and turns each `python train.py ...`
// (also python3, torchrun, deepspeed, accelerate launch, nohup/env prefixes) into a TrainRun.
import { OffsetMap } from '../core/offsetMap';
import { LineIndex } from '../core/span';
import { hasOption } from '../flags/argparse';
import { parseFlagArgs } from './flagArgs';
import type { ExitFlow, ShellParseCache } from './shellParseCache';
import { expandWord, type Scope, type ShellVariable } from './shellExpand';
import { lexShell, type Command, type Word } from './shellLexer';
import { detectTrainer } from './trainer';
import { emptyConfig, type ScriptCall, type TrainConfig, type TrainRun, type Value } from './trainConfig';

const ASSIGNMENT = /^([A-Za-z_][A-Za-z0-9_]*)(\+?)=/;
const KEYWORDS = new Set(['then', 'do', 'else', 'elif', 'if', 'while', 'until', '!', '{', '}', 'time', 'nohup', 'exec', 'sudo', 'command']);
const PYTHON = /(^|\/)python[0-9.]*$/;
const LAUNCHERS = /(^|\/)(torchrun|deepspeed|accelerate|srun|mpirun)$/;
const TRAIN_PY = /(^|\/)train\.py$/;

/** `cache` (one per document) reuses the previous version's lexing and walk up to the edit. */
export function parseShellScript(text: string, cache?: ShellParseCache): TrainConfig {
  const config = emptyConfig('shell');
  const { commands, problems } = cache ? cache.lexer.lex(text) : lexShell(text);
  for (const p of problems) config.problems.push({ span: p.span, message: p.message, severity: 'error' });
  const lines = new LineIndex(text);
  let scope: Scope = new Map();
  let cd: string | undefined;
  let flow: ExitFlow = { errexit: false, braces: '', exited: false };
  let start = 0;
  const resumed = cache?.resumable(commands);
  if (resumed) {
    start = resumed.index;
    scope = copyScope(resumed.scope);
    cd = resumed.cd;
    flow = { ...resumed.flow };
    for (const r of resumed.runs) config.runs.push(r);
    for (const s of resumed.scriptCalls) config.scriptCalls.push(s);
  }
  // where the next edit will probably resume: before the first command this edit changed
  const snapshotAt = cache ? Math.max(start, cache.lexer.reused) : -1;
  const keep = resumed !== undefined && resumed.index === snapshotAt;
  if (keep) resumed.commands = commands; // same prefix objects: valid for this parse too
  else if (cache) cache.walk = undefined;
  // if/elif/else/fi and case/esac being walked (the cache only saves the walk outside them)
  const frames: Frame[] = [];
  let armEnds = false;
  const save = (index: number): void => {
    if (cache && !keep && index === snapshotAt && frames.length === 0) cache.walk = { commands, index, scope: copyScope(scope), cd, runs: config.runs.slice(), scriptCalls: config.scriptCalls.slice(), flow: { ...flow } };
  };
  /** Ends the branch being walked: its variables and cd are kept for the merge at fi/esac. */
  const endBranch = (f: Frame): void => {
    if (f.counts) f.ends.push({ scope, cd });
    scope = copyScope(f.entry);
    cd = f.entryCd;
  };
  const close = (f: Frame): void => {
    if (f.kind === 'if' || !f.expectPattern) endBranch(f);
    if (!f.hasDefault) f.ends.push({ scope: f.entry, cd: f.entryCd });
    frames.pop();
    ({ scope, cd } = mergeBranches(f.ends));
  };

  for (let c = start; c < commands.length; c++) {
    save(c);
    const command = commands[c]!;
    let words = command.words;
    const top = frames[frames.length - 1];
    if (armEnds && top?.kind === 'case') { endBranch(top); top.expectPattern = true; }
    armEnds = command.end !== undefined && (command.end.startsWith(';;') || command.end === ';&');
    if (top?.kind === 'case' && top.expectPattern) {
      if (words.length && literal(words[0]!) === 'esac') { close(top); continue; }
      // a pattern (`v6|v7)`: the lexer split it at | and ended it at ))
      for (const w of words) top.patterns.push(w);
      if (command.end !== ')') continue;
      startArm(top);
      top.expectPattern = false;
      continue;
    }
    const head0 = words.length ? literal(words[0]!) : undefined;
    if (head0 === 'if') {
      frames.push({ kind: 'if', start: command.span.start, line: lines.line(command.span.start), entry: copyScope(scope), entryCd: cd, ends: [], branch: 1, hasDefault: false, counts: true, patterns: [], expectPattern: false, matched: false, label: '' });
      frames[frames.length - 1]!.label = ifLabel(frames[frames.length - 1]!);
    } else if ((head0 === 'elif' || head0 === 'else') && top?.kind === 'if') {
      endBranch(top);
      top.branch++;
      if (head0 === 'else') top.hasDefault = true;
      top.label = head0 === 'else' ? `else of the if at line ${top.line + 1}` : ifLabel(top);
    } else if (head0 === 'fi' && top?.kind === 'if') {
      close(top);
      continue;
    } else if (head0 === 'case') {
      const subject = words[1] ? expandWord(words[1], scope, false)[0] : undefined;
      frames.push({ kind: 'case', start: command.span.start, line: lines.line(command.span.start), entry: copyScope(scope), entryCd: cd, ends: [], branch: 0, hasDefault: false, counts: true, patterns: [], expectPattern: true, matched: false, label: '', subject: subject && !subject.dynamic ? subject.text : undefined, subjectSource: words[1] ? text.slice(words[1].span.start, words[1].span.end) : '' });
      continue;
    } else if (head0 === 'esac' && top?.kind === 'case') {
      close(top);
      continue;
    } else if (head0 === '{' || (head0 === 'function' && literal(words[words.length - 1]!) === '{')) {
      // `name() {` (the lexer ends `name` at its parenthesis) and `function name {` open a body
      flow.braces += head0 === 'function' || commands[c - 1]?.end === '(' ? 'f' : 'g';
      if (head0 === 'function') continue;
    } else if (head0 === '}') {
      flow.braces = flow.braces.slice(0, -1);
      continue;
    }
    while (words.length && isKeyword(words[0]!)) words = words.slice(1);
    // leading NAME=value words: plain assignments, or an environment for this one command
    let k = 0;
    while (k < words.length && isAssignment(words[k]!)) k++;
    if (k === words.length) {
      // plain assignments, applied left to right
      for (const w of words) setVariable(scope, makeVariable(w, scope, false));
      continue;
    }
    // env prefixes (A=1 python ...): visible to the command's environment only
    const prefix = words.slice(0, k).map((w) => makeVariable(w, scope, true));
    const rest = words.slice(k);
    const head = literal(rest[0]!);
    if (head === 'export' || head === 'declare' || head === 'typeset' || head === 'readonly' || head === 'local') {
      const exported = head === 'export' || rest.slice(1).some((w) => literal(w) === '-x');
      for (const w of rest.slice(1)) {
        if (isAssignment(w)) setVariable(scope, makeVariable(w, scope, exported));
        else {
          const name = literal(w);
          const v = name ? scope.get(name) : undefined;
          // a new record, not a mutation: a saved walk state may share the old one
          if (v && exported && !v.exported) scope.set(v.name, { ...v, exported: true });
        }
      }
      continue;
    }
    if (head === 'set') {
      const on = errexitOption(rest.slice(1).map(literal));
      // a `set -e` inside a branch or a function body may or may not have run
      if (on !== undefined) flow.errexit = frames.length === 0 && !flow.braces.includes('f') ? on : on === flow.errexit ? on : undefined;
      continue;
    }
    if (head === 'unset') { for (const w of rest.slice(1)) { const n = literal(w); if (n) scope.delete(n); } continue; }
    if (head === 'cd') {
      const target = rest[1] ? expandWord(rest[1], scope)[0] : undefined;
      cd = target && !target.dynamic ? target.text : undefined;
      continue;
    }
    // `--data_type jsonl` as a command right after a train.py call: a missing trailing \ ended that
    // call a line early (bash: "--data_type: command not found"). A new record, not a mutation: a
    // saved walk state may share the old one.
    const last = config.runs[config.runs.length - 1];
    if (head?.startsWith('--') && c > 0 && last && !last.endedEarly && last.span.end === commands[c - 1]!.span.end) {
      // under `set -e` that command's failure (status 127) stops the script, unless it is tested
      // (`|| ...`), piped or backgrounded, or is in a function body or a branch (which may not run)
      const exits = flow.errexit === true && !flow.exited && frames.length === 0 && !flow.braces.includes('f') && !(command.end && /^(\|\|?|&&?)$/.test(command.end));
      config.runs[config.runs.length - 1] = { ...last, endedEarly: { line: lines.line(last.span.end), next: rest[0]!.span, nextText: head, ...(exits ? { exits } : {}) } };
      if (exits) flow.exited = true;
    }
    const argv: Value[] = [];
    for (const w of rest) expandWord(w, scope, true, 0, argv);
    const run = trainRun(argv, command, lines, scope, prefix, cd);
    if (run) {
      const inner = frames[frames.length - 1];
      if (inner) {
        run.branch = inner.label;
        if (frames.some((f) => !f.counts)) run.unreachable = true;
      }
      if (flow.exited) run.unreachable = true;
      config.runs.push(run);
    } else {
      const call = scriptCall(argv, command, lines);
      if (call) config.scriptCalls.push(call);
    }
  }
  // an if or case left open at the end of the file: bash reports a syntax error
  while (frames.length) {
    const f = frames[frames.length - 1]!;
    config.problems.push({ span: { start: f.start, end: f.start + (f.kind === 'if' ? 2 : 4) }, message: `This ${f.kind} has no ${f.kind === 'if' ? 'fi' : 'esac'}: bash stops with a syntax error before running anything.`, severity: 'error' });
    close(f);
  }
  save(commands.length);
  if (text.includes('\r')) crlf(text, config);
  for (const v of scope.values()) {
    config.variables.push({ name: v.name, nameSpan: v.nameSpan, valueSpan: v.valueSpan, value: v.text, exported: v.exported, dynamic: v.dynamic });
  }
  return config;
}

/** What `set` words do to errexit: `-e`, `-eux`, `-o errexit` turn it on, `+e`, `+o errexit` off; undefined when untouched. */
function errexitOption(words: (string | undefined)[]): boolean | undefined {
  let on: boolean | undefined;
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    // options end at `--`, `-` or the first other word (the positional parameters)
    if (!w || w === '--' || w === '-' || !/^[-+][A-Za-z]/.test(w)) break;
    if (w === '-o' || w === '+o') { if (words[i + 1] === 'errexit') on = w === '-o'; i++; continue; }
    if (/^-[A-Za-z]*e/.test(w)) on = true;
    else if (/^\+[A-Za-z]*e/.test(w)) on = false;
  }
  return on;
}

/** A copy of a scope (forEach: new Map(scope) would build an entry array per variable). */
function copyScope(scope: Scope): Scope {
  const copy: Scope = new Map();
  scope.forEach((v, name) => copy.set(name, v));
  return copy;
}

function setVariable(scope: Scope, v: ShellVariable): void {
  // re-assigning an exported variable keeps it exported, as in bash
  if (scope.get(v.name)?.exported) v.exported = true;
  scope.set(v.name, v);
}

/** Reused by makeVariable, whose words expand to one field (no array per assignment). */
const scratch: Value[] = [];

function makeVariable(word: Word, scope: Scope, exported: boolean): ShellVariable {
  const first = word.parts[0]!;
  const m = first.kind === 'lit' ? ASSIGNMENT.exec(first.text) : null;
  const name = m![1]!;
  const skip = m![0].length;
  const nameStart = first.kind === 'lit' ? first.map.at(0) : word.span.start;
  const value = expandWord(word, scope, false, skip, scratch)[0];
  scratch.length = 0;
  const appended = m![2] === '+' ? scope.get(name) : undefined;
  const valueStart = (first.kind === 'lit' && skip < first.map.length) ? first.map.at(skip) : word.span.end;
  const text = (appended?.text ?? '') + (value?.text ?? '');
  const map = appended ? appended.map.concat(value?.map ?? new OffsetMap()) : value?.map ?? new OffsetMap();
  return {
    name,
    text,
    map,
    nameSpan: { start: nameStart, end: nameStart + name.length },
    valueSpan: { start: valueStart, end: word.span.end },
    exported,
    dynamic: value?.dynamic ?? false,
    unresolved: value?.unresolved ?? [],
    via: value?.via ?? [],
  };
}

/** `python merge/merge.py ...` (any python call of a .py script but train.py, which trainRun takes). */
function scriptCall(argv: Value[], command: Command, lines: LineIndex): ScriptCall | undefined {
  let k = 0;
  while (k < argv.length && (KEYWORDS.has(argv[k]!.text) || argv[k]!.text === 'env' || ASSIGNMENT.test(argv[k]!.text))) k++;
  if (!PYTHON.test(argv[k]?.text ?? '')) return undefined;
  let s = k + 1;
  while (s < argv.length && argv[s]!.text.startsWith('-')) s++; // python -u, -m is not a script
  const script = argv[s];
  if (!script || script.dynamic || !/\.py$/.test(script.text) || argv[s - 1]?.text === '-m') return undefined;
  return { script: script.text, line: lines.line(command.span.start), span: command.span, words: argv.slice(s + 1) };
}

function trainRun(argv: Value[], command: Command, lines: LineIndex, scope: Scope, prefix: ShellVariable[], cd: string | undefined): TrainRun | undefined {
  let k = 0;
  const at = (i: number): string => argv[i]?.text ?? '';
  // env A=1 python ...
  const extraEnv: Record<string, string> = {};
  while (k < argv.length && (KEYWORDS.has(at(k)) || at(k) === 'env' || (k > 0 && at(k - 1) === 'env' && ASSIGNMENT.test(at(k))))) {
    if (ASSIGNMENT.test(at(k))) {
      const m = ASSIGNMENT.exec(at(k))!;
      const v = argv[k]!;
      if (!v.dynamic) extraEnv[m[1]!] = v.text.slice(m[0].length);
    }
    k++;
  }
  const launcherWord = at(k);
  if (!PYTHON.test(launcherWord) && !LAUNCHERS.test(launcherWord)) return undefined;
  let s = k + 1;
  while (s < argv.length && !TRAIN_PY.test(at(s))) s++;
  if (s >= argv.length) return undefined;
  const words = argv.slice(s + 1);
  let { args, strays, needsTrainerPass } = parseFlagArgs(words);
  const { trainer, evidence } = detectTrainer(args);
  // abbreviations and option-like words depend on the trainer's own options
  if (needsTrainerPass || args.some((a) => !hasOption(a.name, trainer))) ({ args, strays } = parseFlagArgs(words, trainer));
  // words known only at run time that may hold flags ("$@", an unset $EXTRA, $(...)): not strays
  let openArgs: Value[] | undefined;
  let forwardsArgs = false;
  if (strays.length) {
    const known: Value[] = [];
    for (const w of strays) {
      if (w.dynamic && w.map.at(0) === -1) {
        (openArgs ??= []).push(w);
        if (/^\$\{?[@*]\}?$/.test(w.text)) forwardsArgs = true;
      } else known.push(w);
    }
    strays = known;
  }
  const env: Record<string, string> = {};
  for (const v of scope.values()) if (v.exported && !v.dynamic) env[v.name] = v.text;
  for (const v of prefix) if (!v.dynamic) env[v.name] = v.text;
  Object.assign(env, extraEnv);
  const base = launcherWord.split('/').pop() ?? launcherWord;
  return {
    line: lines.line(command.span.start),
    span: command.span,
    launcher: PYTHON.test(launcherWord) ? 'python' : base,
    script: at(s),
    trainer,
    trainerEvidence: evidence,
    args,
    strays,
    words,
    ...(openArgs ? { openArgs } : {}),
    ...(forwardsArgs ? { forwardsArgs } : {}),
    env,
    ...(cd !== undefined ? { cd } : {}),
  };
}

function isKeyword(w: Word): boolean {
  const t = literal(w);
  return t !== undefined && KEYWORDS.has(t);
}

/** The word's text when it is one unquoted-or-quoted literal, else undefined. */
function literal(w: Word): string | undefined {
  if (w.parts.length === 0) return '';
  if (w.parts.length === 1) return w.parts[0]!.kind === 'lit' ? w.parts[0]!.text : undefined;
  if (w.parts.every((p) => p.kind === 'lit')) return w.parts.map((p) => (p.kind === 'lit' ? p.text : '')).join('');
  return undefined;
}

/** Whether the word is NAME=... or NAME+=... (ASSIGNMENT, scanned without building a match: every command's first words are asked). */
function isAssignment(w: Word): boolean {
  const first = w.parts[0];
  if (!first || first.kind !== 'lit' || first.quoted) return false;
  const t = first.text;
  let i = 0;
  for (; i < t.length; i++) {
    const c = t.charCodeAt(i);
    const letter = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
    if (!letter && !(i > 0 && c >= 48 && c <= 57)) break;
  }
  if (i === 0) return false;
  if (t.charCodeAt(i) === 43) i++; // +=
  return t.charCodeAt(i) === 61;
}

/**
 * Windows line endings: bash takes the CR as part of each line, so `\` + CR escapes the CR
 * instead of continuing the command (the next lines run as commands of their own:
 * `--devices: command not found`) and the last word of every line ends in a CR. The runs read
 * here are the file's apparent meaning, not bash's, so Run Training refuses until it is LF.
 */
function crlf(text: string, config: TrainConfig): void {
  const broken = /\\\r\n/.exec(text);
  const at = broken ? broken.index : text.search(/\r\n|\r(?!\n)/);
  if (at < 0) return;
  const lines = new LineIndex(text);
  const line = lines.line(at) + 1;
  const message = broken
    ? `This file has Windows (CRLF) line endings: bash reads the CR as part of the line, so the \\ at the end of line ${line} does not continue the command and the lines after it run as separate commands (bash: "command not found"). Convert the file to LF.`
    : `This file has Windows (CRLF) line endings: bash reads the CR as part of line ${line}, so its last word ends in a CR character (train.py would get "value\\r"). Convert the file to LF.`;
  config.problems.push({
    span: { start: broken ? at : at, end: broken ? at + 2 : at + 1 }, message, severity: 'error',
    fix: { title: 'Convert line endings to LF', edits: [{ span: { start: 0, end: text.length }, newText: text.replace(/\r\n/g, '\n') }] },
  });
  if (config.runs.length) config.bashDiffers = `it has Windows (CRLF) line endings, so bash would run ${broken ? `the lines after line ${line} as separate commands` : 'every line with a trailing CR character'}; convert it to LF first`;
}

/** An if/elif/else or case being walked. Each branch starts from `entry`; fi/esac merges their ends. */
interface Frame {
  kind: 'if' | 'case';
  start: number;
  line: number;
  entry: Scope;
  entryCd: string | undefined;
  ends: { scope: Scope; cd: string | undefined }[];
  /** 1-based branch of an if; arms so far of a case. */
  branch: number;
  /** An else, or a case arm that always matches (`*)`, or the one a known subject matches): no fall-through. */
  hasDefault: boolean;
  /** Whether the branch being walked can run (false: an arm a known case subject does not match). */
  counts: boolean;
  patterns: Word[];
  expectPattern: boolean;
  /** A case arm already matched the known subject (later arms never run). */
  matched: boolean;
  label: string;
  subject?: string;
  subjectSource?: string;
}

function ifLabel(f: Frame): string {
  return `branch ${f.branch} of the if at line ${f.line + 1}`;
}

/** Starts a case arm from the entry state: whether it can run, and its label. */
function startArm(f: Frame): void {
  f.branch++;
  const texts = f.patterns.map((w) => literal(w));
  f.patterns = [];
  const shown = texts.map((t) => t ?? '?').join('|');
  f.label = `case ${f.subjectSource} at line ${f.line + 1}: ${shown})`;
  if (f.subject !== undefined && texts.every((t) => t !== undefined)) {
    // the subject is known: bash takes the first arm whose pattern matches it, and only that one
    const hit = !f.matched && texts.some((t) => globMatch(t!, f.subject!));
    f.counts = hit;
    if (hit) { f.matched = true; f.hasDefault = true; }
  } else {
    f.counts = !f.matched;
    if (texts.some((t) => t === '*')) f.hasDefault = true;
  }
}

/** bash pattern matching for case arms: * ? and [...] (quoted characters arrive literal). */
function globMatch(pattern: string, subject: string): boolean {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '*') re += '.*';
    else if (ch === '?') re += '.';
    else if (ch === '[') {
      const close = pattern.indexOf(']', i + 2);
      if (close < 0) { re += '\\['; continue; }
      let body = pattern.slice(i + 1, close);
      if (body.startsWith('!')) body = '^' + body.slice(1);
      re += `[${body.replace(/\\/g, '\\\\')}]`;
      i = close;
    } else re += ch.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  try { return new RegExp(`^${re}$`, 's').test(subject); } catch { return false; }
}

/**
 * The state after an if/case from the states its branches end with (the entry's when no branch
 * may run): a variable all of them agree on keeps its value; one they set differently is known
 * only at run time (`V6_TRAIN="--my_testing x060"` in one arm, `""` in another).
 */
function mergeBranches(ends: { scope: Scope; cd: string | undefined }[]): { scope: Scope; cd: string | undefined } {
  if (ends.length === 1) return { scope: ends[0]!.scope, cd: ends[0]!.cd };
  const names = new Set<string>();
  for (const e of ends) e.scope.forEach((_v, n) => names.add(n));
  const scope: Scope = new Map();
  for (const name of names) {
    const vs = ends.map((e) => e.scope.get(name));
    const first = vs.find((v) => v !== undefined)!;
    const same = vs.every((v) => v === first || (v !== undefined && v.text === first.text && v.dynamic === first.dynamic && v.exported === first.exported));
    if (same) { scope.set(name, first); continue; }
    const last = [...vs].reverse().find((v) => v !== undefined)!;
    const shown = '$' + name;
    scope.set(name, {
      ...last, text: shown, map: OffsetMap.unknown(shown.length), dynamic: true, via: [], unresolved: [],
      exported: vs.some((v) => v?.exported === true),
    });
  }
  const cd = ends.every((e) => e.cd === ends[0]!.cd) ? ends[0]!.cd : undefined;
  return { scope, cd };
}
