// Where train.py calls start in a shell script: enough to place lenses, nothing more (the
// language server resolves what each call means).
/** 0-based lines where a train.py call starts (comments skipped, continuation lines not counted twice). */
export function trainCallLines(text: string): number[] {
  const out: number[] = [];
  let inCall = false;
  text.split(/\r?\n/).forEach((line, i) => {
    const code = line.replace(/(^|\s)#.*$/, '');
    if (!inCall && /\btrain\.py\b/.test(code)) { out.push(i); inCall = true; }
    if (inCall && !/\\\s*$/.test(line)) inCall = false;
  });
  return out;
}
