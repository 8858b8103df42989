// make_data.py's magic_prime rule (FACTS.md): the largest prime p with p % 3 == 2 and
// p <= floor(tokens / ctx_len) - 1. The pretraining sampler visits every sample once per pass
// only with such a prime.

export function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  if (n % 2 === 0) return n === 2;
  if (n % 3 === 0) return n === 3;
  for (let f = 5; f * f <= n; f += 6) if (n % f === 0 || n % (f + 2) === 0) return false;
  return true;
}

/** 0 when the data holds fewer than 3 samples of ctx_len. */
export function magicPrimeFor(tokens: number, ctxLen: number): number {
  if (!(ctxLen > 0) || tokens < 3 * ctxLen) return 0;
  for (let p = Math.floor(tokens / ctxLen) - 1; p >= 2; p--) if (p % 3 === 2 && isPrime(p)) return p;
  return 0;
}
