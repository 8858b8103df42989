// Differential test against real bash: each script of corpus/, of fixtures/tutorials/ and the bench's (the
// tutorials' scripts; the shapes users write: case arms, if/else, "$@" wrappers, $(date), exports and env prefixes,
// here-documents and here-strings, launchers), and mutations of each (CRLF line endings, a
// continuation backslash dropped), runs under bash with stub python/python3/torchrun/deepspeed on
// PATH that record their argv and environment; the server's runs of the same text must be the
// same: the same calls in order (for calls in exclusive branches: the one bash ran is one of
// them), the same words after train.py, the same exported variables. Where the server cannot
// know a word before the run, it must say so (a dynamic word); for CRLF it must refuse.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseShellScript } from '../../src/parse/shellScript';
import type { TrainRun } from '../../src/parse/trainConfig';

// (test/bench/fixtures: the 200-line script the server bench types into)
const CORPUS = [join(__dirname, 'corpus'), join(__dirname, '..', 'fixtures', 'tutorials'), join(__dirname, '..', 'fixtures', 'tutorials', 'broken'), join(__dirname, '..', '..', '..', 'test', 'bench', 'fixtures')];
const STUB = `#!/bin/sh
# one file per call (a background run must not interleave with the next), named in start order
f="$RWKV_STUB_LOG/$(date +%s%N)-$$"
{ printf 'CALL\\0%s\\0' "\${0##*/}"; for a in "$@"; do printf 'ARG\\0%s\\0' "$a"; done; printf 'ENV\\0'; env -0; printf 'END\\0'; } > "$f.tmp" && mv "$f.tmp" "$f"
`;
// set by bash or by the harness, not by the script
const NOT_EXPORTED_BY_SCRIPT = new Set(['PWD', 'OLDPWD', 'SHLVL', '_', 'PATH', 'HOME', 'RWKV_STUB_LOG', 'BASH_ENV', 'LANG', 'LC_ALL']);

interface Call { launcher: string; argv: string[]; env: Record<string, string> }

function bashRuns(dir: string, script: string, text: string): { calls: Call[]; stderr: string } {
  const path = join(dir, script);
  writeFileSync(path, text);
  const log = join(dir, 'calls');
  rmSync(log, { recursive: true, force: true });
  mkdirSync(log);
  writeFileSync(join(dir, 'wait.sh'), 'trap wait EXIT\n');
  const r = spawnSync('/bin/bash', [path], { cwd: dir, encoding: 'utf8', timeout: 10000, env: { PATH: `${join(dir, 'bin')}:/usr/bin:/bin`, HOME: dir, RWKV_STUB_LOG: log, BASH_ENV: join(dir, 'wait.sh'), LC_ALL: 'C' } });
  assert.ok(!r.error, `${script}: ${r.error?.message}`);
  const parts = readdirSync(log).sort().flatMap((f) => readFileSync(join(log, f), 'utf8').split('\0'));
  const calls: Call[] = [];
  for (let i = 0; i < parts.length; i++) {
    if (parts[i] !== 'CALL') continue;
    const call: Call = { launcher: parts[++i]!, argv: [], env: {} };
    while (parts[i + 1] === 'ARG') { call.argv.push(parts[i + 2]!); i += 2; }
    if (parts[i + 1] === 'ENV') {
      i++;
      while (parts[i + 1] !== 'END' && i + 1 < parts.length) { const kv = parts[++i]!; const eq = kv.indexOf('='); call.env[kv.slice(0, eq)] = kv.slice(eq + 1); }
    }
    calls.push(call);
  }
  return { calls, stderr: r.stderr };
}

const afterTrainPy = (c: Call): string[] | undefined => {
  const k = c.argv.findIndex((a) => /(^|\/)train\.py$/.test(a));
  return k < 0 ? undefined : c.argv.slice(k + 1);
};

function mutations(name: string, text: string): [string, string][] {
  const out: [string, string][] = [[name, text]];
  out.push([`${name} (CRLF)`, text.replace(/\r?\n/g, '\r\n')]);
  const cont = text.indexOf(' \\\n');
  if (cont >= 0) out.push([`${name} (a continuation dropped)`, text.slice(0, cont) + text.slice(cont + 2)]);
  return out;
}

test('bash and the server agree on every script of the corpus and its mutations', (t) => {
  const bash = spawnSync('/bin/bash', ['-c', 'echo ok'], { encoding: 'utf8' });
  if (bash.stdout?.trim() !== 'ok') { t.skip('no bash here'); return; }
  const dir = mkdtempSync(join(tmpdir(), 'rwkv-bash-'));
  try {
    mkdirSync(join(dir, 'bin'));
    for (const l of ['python', 'python3', 'torchrun', 'deepspeed']) { writeFileSync(join(dir, 'bin', l), STUB); chmodSync(join(dir, 'bin', l), 0o755); }
    const disagreements: string[] = [];
    let endedEarly = 0;
    let scripts = 0, runs = 0, words = 0, refused = 0, unknownWords = 0, alternatives = 0;
    const files = CORPUS.flatMap((d) => readdirSync(d).filter((f) => f.endsWith('.sh')).sort().map((f) => join(d, f)));
    for (const path of files) {
      const file = path.split('/').slice(-1)[0]!;
      for (const [name, text] of mutations(file, readFileSync(path, 'utf8'))) {
        scripts++;
        const ran = bashRuns(dir, 'script.sh', text);
        const calls = ran.calls.filter((c) => afterTrainPy(c));
        const config = parseShellScript(text);
        if (config.bashDiffers) {
          // the server refuses to launch it; it must indeed differ from the apparent reading
          refused++;
          const apparent = parseShellScript(text.replace(/\r\n/g, '\n')).runs;
          const same = calls.length === apparent.length && calls.every((c, i) => JSON.stringify(afterTrainPy(c)) === JSON.stringify(apparent[i]!.words!.map((w) => w.text)));
          if (same) disagreements.push(`${name}: refused, but bash runs what the file shows`);
          continue;
        }
        const reachable = config.runs.filter((r) => !r.unreachable);
        // a call that lost its trailing \: bash says "--flag: command not found" for the next line; the server must say the call ended early there, and only there
        const notFound = new Set([...ran.stderr.matchAll(/: (--[^\s:]*): command not found/g)].map((m) => m[1]!));
        for (const r of reachable) if (r.endedEarly && !notFound.has(r.endedEarly.nextText)) disagreements.push(`${name} line ${r.line + 1}: the server says the call ended early before ${r.endedEarly.nextText}, bash ran no such command`);
        if (notFound.size && calls.length && !reachable.some((r) => r.endedEarly && notFound.has(r.endedEarly.nextText))) disagreements.push(`${name}: bash ran ${[...notFound].join(', ')} as commands after a train.py call, the server does not say the call ended early`);
        endedEarly += reachable.filter((r) => r.endedEarly).length;
        // runs grouped by the construct they are alternatives of
        const groups: TrainRun[][] = [];
        for (const r of reachable) {
          const key = r.branch?.replace(/^.* at line (\d+).*$/, '$1');
          const last = groups[groups.length - 1];
          if (key && last?.[0]?.branch?.replace(/^.* at line (\d+).*$/, '$1') === key) last.push(r);
          else groups.push([r]);
        }
        // each run (or group of alternatives) takes the first call it matches that no run took yet
        // (a background run's call may come after the next one's)
        const taken = new Set<number>();
        const wordsOf = (i: number): string[] => afterTrainPy(calls[i]!)!;
        const exact = (r: TrainRun, i: number): boolean => JSON.stringify(r.words!.map((w) => w.text)) === JSON.stringify(wordsOf(i));
        const known = (r: TrainRun): boolean => !r.words!.some((w) => w.dynamic);
        const take = (ok: (i: number) => boolean): number => { for (let i = 0; i < calls.length; i++) if (!taken.has(i) && ok(i)) { taken.add(i); return i; } return -1; };
        for (const g of groups) {
          if (g.length > 1 || g[0]!.branch) {
            alternatives++;
            // the call bash made, if it took a branch with one: equal to one of them, or one that is said to be known only at run time
            if (take((i) => g.some((r) => known(r) && exact(r, i))) >= 0 || (g.some((r) => !known(r)) && take(() => true) >= 0)) runs++;
            continue;
          }
          const r = g[0]!;
          if (!known(r)) {
            unknownWords += r.words!.filter((w) => w.dynamic).length;
            if (take(() => true) < 0) disagreements.push(`${name}: the server has a run at line ${r.line + 1}, bash ran none`);
            else runs++;
            continue;
          }
          const i = take((j) => exact(r, j));
          if (i < 0) { disagreements.push(`${name} line ${r.line + 1}: the server passes ${JSON.stringify(r.words!.map((w) => w.text))}, bash made no such call (${calls.map((c) => JSON.stringify(afterTrainPy(c))).join(' ')})`); continue; }
          runs++;
          words += r.words!.length;
          // the variables the script exported (bash's environment minus the harness's)
          const exported = Object.fromEntries(Object.entries(calls[i]!.env).filter(([key]) => !NOT_EXPORTED_BY_SCRIPT.has(key)));
          const serverEnv = Object.fromEntries(Object.entries(r.env).filter(([key]) => !NOT_EXPORTED_BY_SCRIPT.has(key)));
          try { assert.deepEqual(serverEnv, exported); } catch { disagreements.push(`${name} line ${r.line + 1}: bash exports ${JSON.stringify(exported)}, the server ${JSON.stringify(serverEnv)}`); }
        }
        const k = taken.size;
        if (k < calls.length) disagreements.push(`${name}: bash ran ${calls.length} train.py calls, the server matched ${k}`);
      }
    }
    t.diagnostic(`corpus: ${scripts} scripts (with mutations), ${runs} runs, ${words} argv words compared; ${refused} refused (CRLF), ${alternatives} groups of alternatives, ${unknownWords} words known only at run time; ${endedEarly} calls ended early by a missing \\ (bash: command not found)`);
    assert.ok(endedEarly >= 2, `${endedEarly} calls ended early`);
    assert.deepEqual(disagreements, []);
    assert.ok(scripts >= 30 && runs >= 20, `${scripts} scripts, ${runs} runs`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
