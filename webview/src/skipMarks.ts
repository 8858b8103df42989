// Where the loss chart marks the steps the engine's bad-step guard skipped (W_STEP_SKIPPED
// warnings): at the step that took the skipped one's place (the skipped step is not applied, so
// the next applied step carries its number), on the loss line just before it. Pure.
import type { XY } from './lod';
import type { StepPoint } from './messages';
import { xOf, type XAxis } from './series';

export function skipMarks(skipped: readonly number[], points: readonly StepPoint[], axis: XAxis): XY[] {
  const out: XY[] = [];
  const withLoss = points.filter((p) => p.loss !== undefined);
  for (const step of skipped) {
    // the first point at or after the skipped step (binary search: points come in step order)
    let lo = 0, hi = withLoss.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (withLoss[mid].step < step) lo = mid + 1; else hi = mid; }
    const at = withLoss[lo] ?? withLoss[withLoss.length - 1];
    const before = withLoss[lo - 1] ?? at;
    if (!at) continue;
    const x = axis === 'step' ? step : xOf(at, axis);
    if (x !== undefined && before.loss !== undefined) out.push({ x, y: before.loss });
  }
  return out;
}
