// Issue 14's flood in a real VS Code, short (npm test): the fake engine writes
// RWKV_E2E_FLOOD_STEPS (100,000) step lines as fast as the extension host takes them; every
// record reaches metrics.jsonl, the run history and the dashboard, and the UI answers throughout.
// The scenario is floodScenario.mjs (shared with `npm run bench -- extension-host`, 1e6 steps).
// Screenshot: code-server-flood.png.
import { floodRows, floodScenario } from './floodScenario.mjs';

const NAME = 'code-server-flood.e2e';
const steps = Number(process.env.RWKV_E2E_FLOOD_STEPS ?? 100_000);
// A frozen UI, not a slow one: on a shared 2-core machine a round trip of a second or two happens.
const WORST_UI_MS = 10_000;
const { figures, problems } = await floodScenario({ name: NAME, steps, timeoutMs: 120_000, screenshot: 'code-server-flood.png' });
for (const [k, v] of floodRows(figures)) console.log(`${NAME}:   ${k.padEnd(74)} ${v}`);
if (figures.uiPageWorstMs > WORST_UI_MS) problems.push(`the workbench did not answer for ${figures.uiPageWorstMs.toFixed(0)} ms`);
if (figures.quickInputWorstMs > WORST_UI_MS) problems.push(`the quick input took ${figures.quickInputWorstMs.toFixed(0)} ms`);
if (problems.length) { console.error(`${NAME} FAILED:\n  ${problems.join('\n  ')}`); process.exit(1); }
console.log(`${NAME}: ok`);
process.exit(0);
