// Loads the Facts provider: the engine addon's implementation (addonFacts.ts, owned by the addon
// part) when it is present and loads, otherwise a provider whose every call rejects with
// UNAVAILABLE_MESSAGE, so facts-based checks are skipped with one informational message.
import type { Facts } from './facts';

export const UNAVAILABLE_MESSAGE = 'engine addon not available';

/** An Error that means "no facts can be had at all" (not "this file is bad"). */
export class FactsUnavailable extends Error {
  readonly unavailable = true;
}

export function isUnavailable(e: unknown): boolean {
  return !!e && typeof e === 'object' && (e as { unavailable?: unknown }).unavailable === true;
}

export function unavailableFacts(reason = UNAVAILABLE_MESSAGE): Facts {
  const fail = (): Promise<never> => Promise.reject(new FactsUnavailable(reason));
  return { inspectCheckpoint: fail, inspectDataset: fail, listGpus: fail, planMemory: fail, checkRun: fail, planSchedule: fail, previewDataset: fail };
}

/**
 * The contract with addonFacts.ts: it exports `createAddonFacts(): Facts` (which may throw when
 * the native addon binary is missing). The require sits in a try block so that esbuild bundles
 * the module when it exists and leaves a missing one as a run-time failure instead of a build
 * error.
 */
export function loadFacts(): { facts: Facts; source: string } {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require('./addonFacts') as { createAddonFacts?: () => Facts; addonFacts?: Facts; default?: Facts | (() => Facts) };
    const facts = mod.createAddonFacts?.() ?? mod.addonFacts ?? (typeof mod.default === 'function' ? mod.default() : mod.default);
    if (facts) return { facts, source: 'addon' };
    return { facts: unavailableFacts(), source: 'addonFacts.ts exports no provider' };
  } catch (e) {
    return { facts: unavailableFacts(), source: `addon not loaded: ${(e as Error).message.split('\n')[0]}` };
  }
}
