import { findingsFor, render } from './fixtureHarness';
(async () => { for (const f of process.argv.slice(2)) { const r = await findingsFor(f); console.log('==', f); process.stdout.write(render(r.text, r.findings)); } })();
