// Runs the real parse → gather facts → checks pipeline on a fixture file against the fake world
// and renders the findings one per line, the format of the `.expected` files beside fixtures.
import { readFileSync } from 'node:fs';
import { runChecks } from '../src/checks';
import type { Finding } from '../src/checks/types';
import { lineOf } from '../src/core/span';
import { gatherFacts } from '../src/facts/gather';
import { unavailableFacts } from '../src/facts/loadFacts';
import { kindOf, parseDocument } from '../src/parse/parseDocument';
import { fakeFacts, fakeFiles, world } from './fakeWorld';

export async function findingsFor(path: string, opts: { facts?: 'fake' | 'none'; only?: ReadonlySet<string> } = {}): Promise<{ text: string; findings: Finding[] }> {
  const text = readFileSync(path, 'utf8');
  const config = parseDocument(text, kindOf('', path), path);
  // a fixture named *no-addon* is checked as if the engine addon were missing
  const facts = opts.facts === 'none' || path.includes('no-addon') ? unavailableFacts() : fakeFacts();
  const snapshot = await gatherFacts(config, { cwd: world.cwd, facts, files: fakeFiles() });
  return { text, findings: runChecks(config, snapshot, opts.only) };
}

export function render(text: string, findings: Finding[]): string {
  return findings
    .map((f) => ({ f, line: lineOf(text, f.span.start) + 1 }))
    .sort((a, b) => a.line - b.line || a.f.code.localeCompare(b.f.code))
    .map(({ f, line }) => `L${line} ${f.code} ${f.severity}: ${f.message}${f.fixes?.length ? `  [fix: ${f.fixes.map((x) => x.title).join(' | ')}]` : ''}`)
    .join('\n') + '\n';
}
