// Caches facts and file probes for the server, so that checks after an edit can run on what is
// already known (peek: answers only from the cache, starting the missing lookups in the
// background) and the full answer arrives a moment later. Entries expire so that a file
// replaced on disk is seen again.
import { stat } from 'node:fs/promises';
import type { Facts } from './facts';
import type { FileProbe } from './gather';
import type { PathKind } from './snapshot';

/** One shared rejection reason for cache misses in peek mode (no stack capture per miss). */
const NOT_YET = new Error('not known yet');

interface Entry<T> { at: number; promise: Promise<T>; settled?: { ok: T } | { error: unknown } }

export class FactsCache {
  private entries = new Map<string, Entry<unknown>>();
  /** Called when a background lookup started by a peek finishes (the server re-checks then). */
  onSettled: (() => void) | undefined;

  constructor(private readonly facts: Facts, private readonly ttlMs = 5000, private readonly probe: (p: string) => Promise<PathKind> = nodeKind) {}

  invalidate(): void { this.entries.clear(); }

  private get<T>(key: string, make: () => Promise<T>, peek: boolean, ttl = this.ttlMs): Promise<T> {
    const now = Date.now();
    let e = this.entries.get(key) as Entry<T> | undefined;
    if (!e || now - e.at > ttl) {
      if (this.entries.size > 1000) this.entries.clear(); // bounded: old answers are cheap to ask again
      const promise = make();
      const entry: Entry<T> = { at: now, promise };
      promise.then((v) => { entry.settled = { ok: v }; if (peek) this.onSettled?.(); }, (err: unknown) => { entry.settled = { error: err }; if (peek) this.onSettled?.(); });
      this.entries.set(key, entry as Entry<unknown>);
      e = entry;
    }
    if (!peek) return e.promise;
    if (!e.settled) return Promise.reject(NOT_YET);
    return 'ok' in e.settled ? Promise.resolve(e.settled.ok) : Promise.reject(e.settled.error);
  }

  /** Facts and FileProbe views: peek=true answers only from the cache. */
  view(peek: boolean): { facts: Facts; files: FileProbe } {
    return {
      facts: {
        inspectCheckpoint: (p) => this.get(`ck:${p}`, () => this.facts.inspectCheckpoint(p), peek),
        inspectDataset: (p, ctx) => this.get(`ds:${p}:${ctx ?? ''}`, () => this.facts.inspectDataset(p, ctx), peek),
        listGpus: () => this.get('gpus', () => this.facts.listGpus(), peek, 60000),
        planMemory: (flags) => this.get(`mem:${JSON.stringify(flags)}`, () => this.facts.planMemory(flags), peek),
        checkRun: (argv) => this.get(`run:${JSON.stringify(argv)}`, () => this.facts.checkRun(argv), peek),
        // a preview is asked for once, on a click: never cached
        previewDataset: (path, options) => this.facts.previewDataset(path, options),
        planSchedule: (argv, documents) => this.get(`sched:${documents ?? ''}:${JSON.stringify(argv)}`, () => this.facts.planSchedule(argv, documents), peek),
      },
      files: { kind: (p) => this.get(`fs:${p}`, () => this.probe(p), peek) },
    };
  }
}

export async function nodeKind(p: string): Promise<PathKind> {
  try {
    const s = await stat(p);
    return s.isDirectory() ? 'dir' : 'file';
  } catch {
    return 'missing';
  }
}
