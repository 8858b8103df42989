// The probes the user ran, kept in the extension's global state (they describe a machine's GPU,
// not a workspace): the newest per GPU and run shape, at most MAX of them. The language server
// gets them with `rwkv/estimateContext` and prefers them over its model for the lens.
import type { ProbeEvent } from './runProbe';

export const PROBES_KEY = 'rwkvStudio.probes';
export const MAX_PROBES = 64;

export interface Memento { get<T>(key: string): T | undefined; update(key: string, value: unknown): Thenable<void> }

function sameShape(a: ProbeEvent, b: ProbeEvent): boolean {
  return a.device.name === b.device.name && JSON.stringify(a.config) === JSON.stringify(b.config) && a.params.trainable === b.params.trainable && a.params.total === b.params.total;
}

export class ProbeCache {
  constructor(private readonly store: Memento) {}

  list(): ProbeEvent[] {
    const v = this.store.get<unknown>(PROBES_KEY);
    return Array.isArray(v) ? (v as ProbeEvent[]).filter((p) => p && typeof p.tokens_per_s === 'number' && p.device && p.config && p.params) : [];
  }

  async add(p: ProbeEvent): Promise<void> {
    const kept = this.list().filter((q) => !sameShape(q, p));
    await this.store.update(PROBES_KEY, [p, ...kept].slice(0, MAX_PROBES));
  }

  async clear(): Promise<void> { await this.store.update(PROBES_KEY, []); }
}
