// Runs every end-to-end scenario in test/e2e/*.e2e.mjs. Each scenario detects its own tools
// (VS Code download, code-server, chromium) and prints a clear SKIP line when they are absent.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const scenarios = readdirSync(here).filter((f) => f.endsWith('.e2e.mjs')).sort();
let failed = 0;
for (const s of scenarios) {
  console.log(`e2e: ${s}`);
  const r = spawnSync(process.execPath, [join(here, s)], { stdio: 'inherit' });
  if (r.status !== 0) { failed++; console.error(`e2e: ${s} FAILED (exit ${r.status})`); }
}
if (scenarios.length === 0) console.log('e2e: no scenarios yet');
process.exit(failed ? 1 : 0);
