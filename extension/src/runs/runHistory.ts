// The persisted list of runs: historyDir/history.json (records) and historyDir/runs/<id>.jsonl
// (every event of a run, for replay). Writes go through a temporary file and a rename so a
// crash while saving never leaves a half-written history.
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readRunFile } from './runFiles';
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

  /**
   * Never throws. An unreadable, truncated or foreign history.json (overwritten on the next save)
   * gives the runs back from their events files, as runs opened from a file: their events and
   * summary survive, their launch settings (argv, cwd) lived only in history.json.
   */
  load(): RunRecord[] {
    const path = join(this.dir, HISTORY_FILE);
    try {
      const parsed = JSON.parse(readFileSync(path, 'utf8')) as { version?: number; runs?: unknown };
      if (parsed.version === HISTORY_VERSION && Array.isArray(parsed.runs))
        return parsed.runs.filter((r): r is RunRecord => typeof r === 'object' && r !== null && typeof (r as RunRecord).id === 'string' && typeof (r as RunRecord).status === 'string');
    } catch {
      /* recovered below */
    }
    return this.recover();
  }

  /** Records rebuilt from runs/<id>.jsonl, the newest MAX_HISTORY, oldest first. */
  private recover(): RunRecord[] {
    const runsDir = join(this.dir, 'runs');
    let names: string[];
    try { names = readdirSync(runsDir).filter((n) => n.endsWith('.jsonl')); } catch { return []; }
    const found: { mtime: number; record: RunRecord }[] = [];
    for (const name of names) {
      const file = join(runsDir, name);
      try {
        const { record } = readRunFile(file, readFileSync(file, 'utf8'));
        record.id = name.slice(0, -'.jsonl'.length);
        found.push({ mtime: statSync(file).mtimeMs, record });
      } catch { /* an unreadable events file: that run stays lost */ }
    }
    return found.sort((a, b) => a.mtime - b.mtime).slice(-MAX_HISTORY).map((f) => f.record);
  }

  save(runs: RunRecord[]): void {
    this.ensureDirs();
    const path = join(this.dir, HISTORY_FILE);
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ version: HISTORY_VERSION, runs: runs.slice(-MAX_HISTORY) }, null, 1));
    renameSync(tmp, path);
  }
}
