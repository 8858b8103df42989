// Keeps, per open document, the latest parse, facts snapshot and findings. An edit is checked at
// once against the facts already cached (so diagnostics follow typing within milliseconds), then
// again when any missing facts (checkpoint headers, dataset sizes, GPUs, memory plan) arrive.
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { runChecks } from '../checks';
import type { Finding } from '../checks/types';
import { FactsCache } from '../facts/cache';
import { gatherFacts } from '../facts/gather';
import type { FactsSnapshot } from '../facts/snapshot';
import { kindOf, parseDocument } from '../parse/parseDocument';
import type { TrainConfig } from '../parse/trainConfig';
import { scriptCwd } from './workspace';

export interface Analysis {
  uri: string;
  version: number;
  text: string;
  config: TrainConfig;
  snapshot: FactsSnapshot;
  findings: Finding[];
  cwd: string;
}

/** Above this size a document is parsed but its facts are not looked up (bounded time). */
const MAX_FACTS_BYTES = 1 << 20;
/** Quiet time after an edit before missing facts are looked up. */
const FACTS_DELAY_MS = 120;

export class Analyzer {
  private latest = new Map<string, Analysis>();

  constructor(private cache: FactsCache, private readonly publish: (a: Analysis) => void) {}

  /** Swaps the facts source (e.g. off in an untrusted workspace). */
  useCache(cache: FactsCache): void { this.cache = cache; }

  get(uri: string): Analysis | undefined { return this.latest.get(uri); }
  forget(uri: string): void { this.latest.delete(uri); }

  /** Parses and checks now (with cached facts), publishes, then completes the facts and republishes if they change anything. */
  async update(doc: TextDocument, languageId = doc.languageId): Promise<Analysis> {
    const text = doc.getText();
    const config = parseDocument(text, kindOf(languageId, doc.uri), doc.uri);
    const cwd = scriptCwd(doc.uri);
    const quick = await gatherFacts(config, { cwd, ...this.cache.view(true) });
    const first: Analysis = { uri: doc.uri, version: doc.version, text, config, snapshot: quick, findings: runChecks(config, quick), cwd };
    this.latest.set(doc.uri, first);
    this.publish(first);
    if (!config.runs.length || text.length > MAX_FACTS_BYTES) return first;
    // while the user types, only the last edit's facts are worth looking up
    await new Promise((r) => setTimeout(r, FACTS_DELAY_MS));
    if (this.latest.get(doc.uri) !== first) return this.latest.get(doc.uri) ?? first;
    const full = await gatherFacts(config, { cwd, ...this.cache.view(false) });
    const current = this.latest.get(doc.uri);
    if (current !== first) return current ?? first; // a newer edit took over
    const findings = runChecks(config, full);
    const second: Analysis = { ...first, snapshot: full, findings };
    this.latest.set(doc.uri, second);
    if (JSON.stringify(findings) !== JSON.stringify(first.findings)) this.publish(second);
    return second;
  }
}
