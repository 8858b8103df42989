// The run table's words for a run on several GPUs: how many, and every rank's memory at the
// latest step (the memory chart draws rank 0's). Empty on one GPU, so that row reads as before.
// Pure, so the extension's unit tests check it without a browser.
import type { RunSummary } from './messages';
import { formatBytes } from './series';

export function ranksText(run: RunSummary): string {
  if (!run.worldSize || run.worldSize < 2) return '';
  const memory = run.rankMemory?.length ? `: ${run.rankMemory.map((r) => `rank ${r.rank} ${formatBytes(r.used)}`).join(', ')}` : '';
  return ` · ${run.worldSize} GPUs${memory}`;
}
