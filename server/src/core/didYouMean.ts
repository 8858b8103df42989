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

/** Answers of closest() per candidate list (the flag lists are built once): while a flag is being
 * typed, every keystroke asks for the same few words against some 200 flag names. */
const answers = new WeakMap<readonly string[], Map<string, string | undefined>>();
const MAX_ANSWERS = 500;

const norm = (s: string): string => s.toLowerCase().replace(/-/g, '_');

/** The closest candidate, if close enough to be a plausible typo (case and -/_ differences count little). */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  if (!Array.isArray(candidates)) return closestOf(word, candidates);
  let known = answers.get(candidates);
  if (!known) answers.set(candidates, known = new Map());
  if (known.has(word)) return known.get(word);
  const answer = closestOf(word, candidates);
  if (known.size >= MAX_ANSWERS) known.clear();
  known.set(word, answer);
  return answer;
}

function closestOf(word: string, candidates: Iterable<string>): string | undefined {
  const w = norm(word);
  const limit = Math.max(1, Math.min(3, Math.floor(word.length / 3)));
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const nc = norm(c);
    // the distance is at least the difference in length: a candidate farther than the limit (or
    // than the best so far) cannot be the answer, so its distance need not be computed
    if (Math.abs(nc.length - w.length) > Math.min(limit, bestD)) continue;
    const d = nc === w ? 0 : editDistance(w, nc);
    if (d < bestD) { bestD = d; best = c; }
  }
  return bestD <= limit ? best : undefined;
}
