// Re-lexes a document after an edit from the last point before the edit where lexing can resume,
// reusing the commands before it (most edits touch one line; everything above it lexes the same).
// The result is exactly what lexShell gives for the whole text: tokens before a resume point
// depend only on the text before it (shellLexer.ts LexResult.resumePoints), and that text is
// unchanged. Lexed commands are never mutated, so the reused ones are shared, not copied.
import { lexShell, lexShellFrom, type LexResult } from './shellLexer';

export class IncrementalLexer {
  private text: string | undefined;
  private result: LexResult | undefined;
  /** How many commands (from the start) the last lex() shared with the one before it. */
  reused = 0;

  lex(text: string): LexResult {
    const prev = this.result;
    let result: LexResult;
    this.reused = 0;
    if (prev === undefined || this.text === undefined) result = lexShell(text);
    else if (text === this.text) { result = prev; this.reused = prev.commands.length; }
    else {
      // (a point at the very end is never recorded, so resuming there would add one)
      const same = Math.min(commonPrefixLength(this.text, text), text.length - 1);
      const k = lastResumePointAtOrBefore(prev.resumePoints, same);
      if (k < 0) result = lexShell(text);
      else {
        const points = prev.resumePoints;
        result = lexShellFrom(text, {
          offset: points[k]!,
          commands: prev.commands.slice(0, points[k + 1]!),
          problems: prev.problems.slice(0, points[k + 2]!),
          resumePoints: points.slice(0, k + 3),
        });
        this.reused = points[k + 1]!;
      }
    }
    this.text = text;
    this.result = result;
    return result;
  }
}

function commonPrefixLength(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  // whole blocks first: comparing two slices is one native comparison, also before the JIT
  // has optimised this loop
  const BLOCK = 256;
  while (i + BLOCK <= n && a.slice(i, i + BLOCK) === b.slice(i, i + BLOCK)) i += BLOCK;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

/** Index (into the flattened triples) of the last resume point whose offset is <= limit, or -1. */
function lastResumePointAtOrBefore(points: number[], limit: number): number {
  let lo = 0;
  let hi = points.length / 3 - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (points[3 * mid]! <= limit) { found = mid; lo = mid + 1; } else hi = mid - 1;
  }
  return found < 0 ? -1 : 3 * found;
}
