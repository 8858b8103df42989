// `npm run bench -- extension-host` (or `-- flood`): issue 14's "memory used by the extension
// host during a 10⁶-step run", in a real one: code-server's extension host following the fake
// engine in FAKE_MODE=flood, FLOOD_STEPS (1,000,000) step lines as fast as the host drains the
// pipe, with the UI probed throughout (test/e2e/floodScenario.mjs, the scenario that
// code-server-flood.e2e.mjs runs with 1e5 steps). Fails when a record is lost or the dashboard
// does not catch up within FLOOD_TIMEOUT_S (540). BENCH_SAVE=1 writes
// test/bench/results/extension_host_flood.md.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { root } from '../e2e/codeServerSession.mjs';
import { floodRows, floodScenario } from '../e2e/floodScenario.mjs';

const steps = Number(process.env.FLOOD_STEPS ?? 1_000_000);
const { figures, problems } = await floodScenario({ name: 'extension-host-flood.bench', steps, timeoutMs: Number(process.env.FLOOD_TIMEOUT_S ?? 540) * 1000 });
const rows = floodRows(figures);
console.log(`extension host following a flooding engine (code-server 4.100.3, chromium, fake engine FAKE_MODE=flood)`);
for (const [k, v] of rows) console.log(`  ${k.padEnd(74)} ${v}`);
if (problems.length) console.log(`PROBLEMS:\n  ${problems.join('\n  ')}`);
if (process.env.BENCH_SAVE === '1') {
  const md = ['# Extension host under a flooding engine (`npm run bench -- extension-host`)', '',
    `Machine: ${process.env.BENCH_MACHINE ?? 'this machine'}; ${new Date().toISOString().slice(0, 10)}. code-server 4.100.3 (VS Code's server, a real Node extension host) in Debian's chromium via playwright-core; `
    + `the fake engine (test/fake-engine, FAKE_MODE=flood) writes ${steps.toLocaleString('en')} step lines to stdout and metrics.jsonl as fast as the host drains the pipe. `
    + 'RSS is VmRSS of the extension host process (/proc/PID/status, every 200 ms; the engine is a separate process). Round trips are measured from the test process while the flood runs.', '',
    '| figure | value |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${String(v).replace(/\|/g, '\\|')} |`), '',
    problems.length ? `Problems: ${problems.join('; ')}` : 'Every record arrived, in order, in all three places; the dashboard showed the last step.', ''].join('\n');
  writeFileSync(join(root, 'test/bench/results/extension_host_flood.md'), md);
}
process.exit(problems.length ? 1 : 0);
