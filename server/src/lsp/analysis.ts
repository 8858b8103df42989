// Keeps, per open document, the latest parse, facts snapshot and findings. An edit is checked at
// once against the facts already cached (so diagnostics follow typing within milliseconds), then
// again when any missing facts (checkpoint headers, dataset sizes, GPUs, memory plan) arrive.
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { runChecks } from '../checks';
import type { Finding } from '../checks/types';
import { FactsCache } from '../facts/cache';
import { gatherFacts } from '../facts/gather';
import type { FactsSnapshot } from '../facts/snapshot';
import { ShellParseCache } from '../parse/shellParseCache';
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
/**
 * Above this size a shell script is parsed whole after each edit: the saved lexing and walk state
 * would hold a second copy of a very large document's tokens in memory.
 */
const MAX_INCREMENTAL_CHARS = 1 << 20;
/** Quiet time after an edit before missing facts are looked up. */
const FACTS_DELAY_MS = 120;

/** The facts lookup waiting for a document's edits to pause, and the update() calls waiting for it. */
interface Waiter { resolve: (a: Analysis) => void; reject: (e: unknown) => void }
interface PendingFacts { first: Analysis; timer: ReturnType<typeof setTimeout>; waiters: Waiter[] }

export class Analyzer {
  private latest = new Map<string, Analysis>();
  /**
   * One pending facts lookup per document, replaced by each edit: while the user types, only the
   * last edit's facts are worth looking up. (A timer per edit would also keep every superseded
   * analysis alive until its timer fired, and the garbage collector would copy them all, over
   * and over, while the user types.)
   */
  private pending = new Map<string, PendingFacts>();
  /** Per document: parses a shell script again only from the edit on. */
  private shellCaches = new Map<string, ShellParseCache>();

  constructor(private cache: FactsCache, private readonly publish: (a: Analysis) => void) {}

  /** Swaps the facts source (e.g. off in an untrusted workspace). */
  useCache(cache: FactsCache): void { this.cache = cache; }

  get(uri: string): Analysis | undefined { return this.latest.get(uri); }

  /** The latest analysis once its facts lookup (if one is pending) has finished. */
  settled(uri: string): Promise<Analysis | undefined> {
    const p = this.pending.get(uri);
    if (!p) return Promise.resolve(this.latest.get(uri));
    return new Promise<Analysis | undefined>((resolve) => { p.waiters.push({ resolve, reject: () => resolve(this.latest.get(uri)) }); });
  }
  forget(uri: string): void {
    const p = this.pending.get(uri);
    if (p) { clearTimeout(p.timer); this.pending.delete(uri); for (const w of p.waiters) w.resolve(p.first); }
    this.latest.delete(uri);
    this.shellCaches.delete(uri);
  }

  /**
   * Parses and checks now (with cached facts), publishes, then completes the facts and republishes
   * if they change anything. Resolves with the analysis that has the complete facts, or with a
   * newer edit's analysis when one takes over first.
   */
  async update(doc: TextDocument, languageId = doc.languageId): Promise<Analysis> {
    const text = doc.getText();
    let shellCache = this.shellCaches.get(doc.uri);
    if (text.length > MAX_INCREMENTAL_CHARS) { this.shellCaches.delete(doc.uri); shellCache = undefined; }
    else if (!shellCache) this.shellCaches.set(doc.uri, shellCache = new ShellParseCache());
    const config = parseDocument(text, kindOf(languageId, doc.uri), doc.uri, shellCache);
    const cwd = scriptCwd(doc.uri);
    const quick = await gatherFacts(config, { cwd, ...this.cache.view(true) });
    const first: Analysis = { uri: doc.uri, version: doc.version, text, config, snapshot: quick, findings: runChecks(config, quick), cwd };
    this.latest.set(doc.uri, first);
    const superseded = this.pending.get(doc.uri);
    if (superseded) {
      clearTimeout(superseded.timer);
      this.pending.delete(doc.uri);
      for (const w of superseded.waiters) w.resolve(first);
    }
    this.publish(first);
    if (!config.runs.length || text.length > MAX_FACTS_BYTES) return first;
    return new Promise<Analysis>((resolve, reject) => {
      const p: PendingFacts = { first, waiters: [{ resolve, reject }], timer: setTimeout(() => void this.completeFacts(p), FACTS_DELAY_MS) };
      this.pending.set(doc.uri, p);
    });
  }

  /** Never rejects: a failure reaches the update() calls waiting for this lookup. */
  private async completeFacts(p: PendingFacts): Promise<void> {
    const { first } = p;
    const settle = (w: (x: Waiter) => void): void => {
      if (this.pending.get(first.uri) !== p) return; // a newer edit took over and answered them
      this.pending.delete(first.uri);
      for (const x of p.waiters) w(x);
    };
    try {
      const full = await gatherFacts(first.config, { cwd: first.cwd, ...this.cache.view(false) });
      if (this.pending.get(first.uri) !== p) return;
      const findings = runChecks(first.config, full);
      const second: Analysis = { ...first, snapshot: full, findings };
      this.latest.set(first.uri, second);
      if (JSON.stringify(findings) !== JSON.stringify(first.findings)) this.publish(second);
      settle((x) => x.resolve(second));
    } catch (e) {
      settle((x) => x.reject(e));
    }
  }
}
