// The engine's step-time model and its fit (pure; used by server/scripts/fit-throughput.ts to
// write throughput.json, by the tests to check it, and by the lens through throughputModel.ts).
//
// One micro-batch of B rows × T tokens on a model of L layers, width D, P parameters (Tr of
// them trained) takes, in seconds, a non-negative combination of what bounds it:
//   L          a fixed cost per layer (kernel launches)
//   L·T        WKV7's recurrence runs T steps one after another in every layer
//   B·T·L·D    element-wise work (memory traffic) of every token
//   B·T·(6P + 2Tr)   GEMM FLOPs with --grad_cp 1: forward, its re-run, input gradients, and
//                    weight gradients for the trained parameters only
//   Tr         gradients + AdamW state of the trained parameters
//   L·T·adapter  LoRA/PiSSA/MiSS's extra low-rank GEMMs beside every linear
// Measured throughput is tokens per second of a whole optimizer step, so the fit is on step
// time (B·T / tokens_per_s), weighted by 1/time (relative error, every row alike).

export interface StepConfig {
  nLayer: number;
  nEmbd: number;
  ctxLen: number;
  microBsz: number;
  totalParams: number;
  trainableParams: number;
  /** lora | pissa | miss (the adapted linears' extra GEMMs) */
  adapter: boolean;
}

export const FEATURES = ['layer', 'layer_time', 'token_layer_width', 'gemm_flops', 'trained_params', 'adapter_layer_time'] as const;

export function features(c: StepConfig): number[] {
  const tokens = c.microBsz * c.ctxLen;
  return [
    c.nLayer,
    c.nLayer * c.ctxLen,
    tokens * c.nLayer * c.nEmbd,
    tokens * (6 * c.totalParams + 2 * c.trainableParams),
    c.trainableParams,
    c.adapter ? c.nLayer * c.ctxLen : 0,
  ];
}

export function stepSeconds(coefficients: number[], c: StepConfig): number {
  const f = features(c);
  return f.reduce((s, x, i) => s + x * (coefficients[i] ?? 0), 0);
}

export function tokensPerSecond(coefficients: number[], c: StepConfig): number {
  const t = stepSeconds(coefficients, c);
  return t > 0 ? (c.microBsz * c.ctxLen) / t : 0;
}

/** Solves the normal equations of the columns in `active` (Gaussian elimination, partial pivoting). */
function leastSquares(A: number[][], b: number[], active: number[]): number[] | undefined {
  const k = active.length;
  const M = Array.from({ length: k }, () => new Array<number>(k + 1).fill(0));
  for (let r = 0; r < A.length; r++) {
    for (let i = 0; i < k; i++) {
      const ai = A[r][active[i]];
      for (let j = 0; j < k; j++) M[i][j] += ai * A[r][active[j]];
      M[i][k] += ai * b[r];
    }
  }
  for (let col = 0; col < k; col++) {
    let pivot = col;
    for (let r = col + 1; r < k; r++) if (Math.abs(M[r][col]) > Math.abs(M[pivot][col])) pivot = r;
    if (Math.abs(M[pivot][col]) < 1e-300) return undefined;
    [M[col], M[pivot]] = [M[pivot], M[col]];
    for (let r = 0; r < k; r++) {
      if (r === col) continue;
      const f = M[r][col] / M[col][col];
      for (let j = col; j <= k; j++) M[r][j] -= f * M[col][j];
    }
  }
  return M.map((row, i) => row[k] / row[i]);
}

/**
 * Non-negative least squares, exactly: every subset of the columns is solved and the best
 * solution with no negative coefficient kept (2^6 subsets; a cost that cannot be negative).
 */
export function nnls(A: number[][], b: number[]): number[] {
  const n = A[0]?.length ?? 0;
  let best: number[] = new Array<number>(n).fill(0);
  let bestResidual = b.reduce((s, y) => s + y * y, 0);
  for (let mask = 1; mask < 1 << n; mask++) {
    const active = [...Array(n).keys()].filter((i) => mask & (1 << i));
    const x = leastSquares(A, b, active);
    if (!x || x.some((v) => !(v >= 0))) continue;
    const full = new Array<number>(n).fill(0);
    active.forEach((c, i) => { full[c] = x[i]; });
    const residual = A.reduce((s, row, r) => s + (row.reduce((t, a, j) => t + a * full[j], 0) - b[r]) ** 2, 0);
    if (residual < bestResidual) { bestResidual = residual; best = full; }
  }
  return best;
}

export interface Measurement { name: string; config: StepConfig; tokensPerS: number }

/**
 * Fits the coefficients to measured rows. Columns are scaled to unit size first so the
 * normal equations stay well conditioned (the features span 12 to 1e15).
 */
export function fit(rows: Measurement[]): number[] {
  const X = rows.map((r) => features(r.config));
  const y = rows.map((r) => (r.config.microBsz * r.config.ctxLen) / r.tokensPerS);
  const n = FEATURES.length;
  const scale = [...Array(n).keys()].map((j) => Math.max(...X.map((row) => Math.abs(row[j]))) || 1);
  // weights 1/y: each row's relative error counts alike
  const A = X.map((row, r) => row.map((v, j) => v / scale[j] / y[r]));
  const b = y.map(() => 1);
  return nnls(A, b).map((c, j) => c / scale[j]);
}

/** Relative error of the model on each row: predicted tokens/s / measured - 1. */
export function errors(coefficients: number[], rows: Measurement[]): number[] {
  return rows.map((r) => tokensPerSecond(coefficients, r.config) / r.tokensPerS - 1);
}

/** Leave-one-out: each row predicted by a model fitted without it. */
export function leaveOneOut(rows: Measurement[]): number[] {
  return rows.map((r, i) => {
    const c = fit(rows.filter((_, j) => j !== i));
    return tokensPerSecond(c, r.config) / r.tokensPerS - 1;
  });
}

/**
 * Whether a row lies inside what the other rows span (every feature within their range): a
 * left-out row outside it is an extrapolation, which leave-one-out cannot vouch for.
 */
export function interior(rows: Measurement[], i: number): boolean {
  const others = rows.filter((_, j) => j !== i).map((r) => features(r.config));
  const f = features(rows[i].config);
  return f.every((v, j) => v >= Math.min(...others.map((o) => o[j])) && v <= Math.max(...others.map((o) => o[j])));
}
