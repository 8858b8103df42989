// Where a script runs: RWKV-PEFT and RWKV-LM scripts live in scripts/ (or beside train.py) and are
// started from the folder holding train.py ("run sh scripts/miss.sh in the RWKV-PEFT folder"),
// so relative paths resolve from the nearest ancestor with a train.py, else the script's folder.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const cache = new Map<string, string>();

export function filePathOf(uri: string): string | undefined {
  if (!uri.startsWith('file:')) return undefined;
  try { return fileURLToPath(uri); } catch { return undefined; }
}

export function scriptCwd(uri: string): string {
  const file = filePathOf(uri);
  if (!file) return process.cwd();
  const start = dirname(file);
  const hit = cache.get(start);
  if (hit) return hit;
  let dir = start;
  let found = start;
  for (let i = 0; i < 4; i++) {
    if (existsSync(join(dir, 'train.py'))) { found = dir; break; }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  if (cache.size > 200) cache.clear();
  cache.set(start, found);
  return found;
}

export function clearCwdCache(): void { cache.clear(); }
