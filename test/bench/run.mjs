// `npm run bench`: runs every benchmark in test/bench/*.bench.mjs in turn. Benchmarks are not
// tests: they print tables (ratios against a peer measured in the same run) and write them to
// test/bench/results/ when BENCH_SAVE=1.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv[2];
const benches = readdirSync(here).filter((f) => f.endsWith('.bench.mjs') && (!only || f.includes(only))).sort();
let failed = 0;
for (const b of benches) {
  console.log(`\n== bench: ${b}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(here, b)], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
