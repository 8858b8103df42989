// The persisted list of runs: historyDir/history.json (records) and historyDir/runs/<id>.jsonl
// (every event of a run, for replay). Writes go through a temporary file and a rename so a
// crash while saving never leaves a half-written history.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunRecord } from './runRecord';

const HISTORY_FILE = 'history.json';
const HISTORY_VERSION = 1;
/** Older runs are forgotten (their events files stay on disk). */
export const MAX_HISTORY = 200;

export class RunHistory {
  constructor(readonly dir: string) {}

  eventsFileFor(runId: string): string {
    return join(this.dir, 'runs', `${runId}.jsonl`);
  }

  ensureDirs(): void {
    mkdirSync(join(this.dir, 'runs'), { recursive: true });
  }

  /** Never throws: an unreadable or foreign file gives an empty history (and is overwritten on the next save). */
  load(): RunRecord[] {
    const path = join(this.dir, HISTORY_FILE);
    if (!existsSync(path)) return [];
    try {
      const parsed = JSON.parse(readFileSync(path, 'utf8')) as { version?: number; runs?: unknown };
      if (parsed.version !== HISTORY_VERSION || !Array.isArray(parsed.runs)) return [];
      return parsed.runs.filter((r): r is RunRecord => typeof r === 'object' && r !== null && typeof (r as RunRecord).id === 'string' && typeof (r as RunRecord).status === 'string');
    } catch {
      return [];
    }
  }

  save(runs: RunRecord[]): void {
    this.ensureDirs();
    const path = join(this.dir, HISTORY_FILE);
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ version: HISTORY_VERSION, runs: runs.slice(-MAX_HISTORY) }, null, 1));
    renameSync(tmp, path);
  }
}
