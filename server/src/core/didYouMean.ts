// "Did you mean" suggestions: Damerau-Levenshtein distance with a length-relative cut-off.

export function editDistance(a: string, b: string): number {
  const m = a.length, n = b.length;
  if (Math.abs(m - n) > 8) return Math.abs(m - n);
  const d: number[][] = Array.from({ length: m + 1 }, (_, i) => {
    const row = new Array<number>(n + 1).fill(0);
    row[0] = i;
    return row;
  });
  for (let j = 0; j <= n; j++) d[0]![j] = j;
  for (let i = 1; i <= m; i++) {
    for (let j = 1; j <= n; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[m]![n]!;
}

/** The closest candidate, if close enough to be a plausible typo (case and -/_ differences count little). */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  const norm = (s: string): string => s.toLowerCase().replace(/-/g, '_');
  const w = norm(word);
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = norm(c) === w ? 0 : editDistance(w, norm(c));
    if (d < bestD) { bestD = d; best = c; }
  }
  const limit = Math.max(1, Math.min(3, Math.floor(word.length / 3)));
  return bestD <= limit ? best : undefined;
}
