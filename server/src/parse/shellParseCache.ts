// What one open shell script keeps between edits so that an edit is parsed from where it starts:
// the incremental lexer, and the walk's state (variables, cd, runs so far) just before the
// first command the last edit changed. The next edit, usually on the same line or below, resumes
// the walk there when every command before that point is the very same (shared) object, which
// holds exactly when the text before it is unchanged. Parsing with or without the cache gives the
// same result (shellParseCache.test.ts).
import { IncrementalLexer } from './incrementalLexer';
import type { Command } from './shellLexer';
import type { Scope } from './shellExpand';
import type { ScriptCall, TrainRun } from './trainConfig';

/** The walk's state before commands[index] of the parse that recorded it. */
export interface WalkState { commands: Command[]; index: number; scope: Scope; cd: string | undefined; runs: TrainRun[]; scriptCalls: ScriptCall[]; flow: ExitFlow }

/** What decides whether bash stops the script at a failing command (see shellScript.ts). */
export interface ExitFlow {
  /** `set -e` in force: true, false, or undefined where it was changed inside a branch. */
  errexit: boolean | undefined;
  /** The `{` blocks open around the walk, innermost last: 'g' a group, which runs where it stands,
   * 'f' a function body, which runs only when called (a failure there stops nothing yet). */
  braces: string;
  /** Bash has stopped the script: every command after this point never runs. */
  exited: boolean;
}

export class ShellParseCache {
  readonly lexer = new IncrementalLexer();
  /** Set by parseShellScript; variables in it are never mutated (the walk replaces them). */
  walk: WalkState | undefined;

  /** The recorded state, when commands[0, index) are the same objects as in `commands`. */
  resumable(commands: Command[]): WalkState | undefined {
    const w = this.walk;
    if (!w || w.index > commands.length) return undefined;
    if (w.commands === commands) return w;
    for (let k = 0; k < w.index; k++) if (w.commands[k] !== commands[k]) return undefined;
    return w;
  }
}
