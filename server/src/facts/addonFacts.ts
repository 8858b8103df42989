// Facts from the engine's core library through the native addon dist/bin/rwkv_studio.node
// (engine/addon). loadFacts.ts calls createAddonFacts() inside a try block: when the binary is
// missing or cannot load (another platform, a build without Node headers), this throws one
// clear Error and the server falls back to "facts unknown" and says so once.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { CheckpointFacts, DatasetFacts, DatasetPreview, Facts, FlagValues, GpuFacts, MemoryPlan, PreviewOptions, RunCheck, RunSchedule } from './facts';

/** What the addon exports (engine/addon/addon.cpp). */
export interface RwkvStudioAddon {
  version: string;
  inspectCheckpoint(path: string): Promise<CheckpointFacts>;
  inspectDataset(pathOrPrefix: string, ctxLen?: number): Promise<DatasetFacts>;
  listGpus(): Promise<{ gpus: GpuFacts[]; reason?: string }>;
  /** Synchronous (pure arithmetic). stack: 'reference' (the Python trainers) or 'engine' (ours). */
  planMemory(flags: FlagValues, stack?: PlannerStack): MemoryPlan & PlanDetails;
  /** Synchronous (no file is read); absent in addons built before it existed. */
  checkRun?(argv: string[]): RunCheck;
  /** Synchronous (no file is read); absent in addons built before it existed. */
  planSchedule?(argv: string[], documents?: number): RunSchedule;
  /** A Promise (runs on libuv's pool); absent in addons built before it existed. */
  previewDataset?(path: string, options: PreviewOptions): Promise<DatasetPreview>;
}

export type PlannerStack = 'reference' | 'engine';

export interface PlanDetails {
  stack: PlannerStack;
  totalParams: number;
  trainableParams: number;
}

export const ADDON_FILE = 'rwkv_studio.node';

/**
 * Where the addon may be, best first: $RWKV_STUDIO_ADDON; dist/bin beside the bundled
 * dist/server.js (and dist/extension.js); the repository's dist/bin when running from sources
 * (server/src/facts -> ../../../dist/bin).
 */
export function addonCandidates(here: string = __dirname, env: NodeJS.ProcessEnv = process.env): string[] {
  const list: string[] = [];
  if (env.RWKV_STUDIO_ADDON) list.push(env.RWKV_STUDIO_ADDON);
  list.push(join(here, 'bin', ADDON_FILE));
  list.push(join(here, '..', '..', '..', 'dist', 'bin', ADDON_FILE));
  return list;
}

/**
 * Loads the native addon; throws an Error that says which files were tried and why it failed.
 * RWKV_STUDIO_NO_ADDON=1 turns it off (tests of the fallback, or to rule the addon out).
 */
export function loadAddon(candidates: string[] = addonCandidates(), env: NodeJS.ProcessEnv = process.env): RwkvStudioAddon {
  if (env.RWKV_STUDIO_NO_ADDON === '1') throw new Error('RWKV Studio engine addon turned off (RWKV_STUDIO_NO_ADDON=1)');
  const tried: string[] = [];
  for (const file of candidates) {
    if (!existsSync(file)) { tried.push(`${file} (missing)`); continue; }
    try {
      // A plain require of a computed path: esbuild leaves it to run time.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const mod = require(file) as Partial<RwkvStudioAddon>;
      if (typeof mod.inspectCheckpoint !== 'function' || typeof mod.planMemory !== 'function') {
        tried.push(`${file} (not the RWKV Studio addon)`);
        continue;
      }
      return mod as RwkvStudioAddon;
    } catch (e) {
      tried.push(`${file} (${(e as Error).message.split('\n')[0]})`);
    }
  }
  throw new Error(`RWKV Studio engine addon could not be loaded; tried: ${tried.join('; ')}`);
}

/** planMemory's answer: the chosen stack's plan, plus the other stack's for hovers. */
export type DualMemoryPlan = MemoryPlan & PlanDetails & { other: MemoryPlan & PlanDetails };

/**
 * The Facts provider over the addon. `stack` picks the headline plan: 'reference' (default)
 * for train.py scripts — what the user's Python run (RWKV-PEFT / RWKV-LM on PyTorch+DeepSpeed)
 * will take, the figure the tutorials' tables measure — and 'engine' for runs of our native
 * trainer, whose `start` event reports the same bytes (engine/core/planner.h, one function).
 * Both are returned (`other`), so a hover can show what Run Training would save.
 */
export function createAddonFacts(addon: RwkvStudioAddon = loadAddon(), stack: PlannerStack = 'reference'): Facts {
  const otherStack: PlannerStack = stack === 'reference' ? 'engine' : 'reference';
  return {
    inspectCheckpoint: (path) => addon.inspectCheckpoint(path),
    inspectDataset: (pathOrPrefix, ctxLen) => addon.inspectDataset(pathOrPrefix, ctxLen),
    listGpus: () => addon.listGpus(),
    // Synchronous in the addon; a thrown planner error (bad flags) becomes a rejection.
    planMemory: (flags) => new Promise<DualMemoryPlan>((resolve) =>
      resolve({ ...addon.planMemory(flags, stack), other: addon.planMemory(flags, otherStack) })),
    checkRun: (argv) => new Promise<RunCheck>((resolve, reject) => {
      if (!addon.checkRun) reject(new Error('this engine addon has no checkRun'));
      else resolve(addon.checkRun(argv));
    }),
    // a thrown option error (flags the trainer refuses) becomes a rejection; RWKV026 reports it
    planSchedule: (argv, documents) => new Promise<RunSchedule>((resolve, reject) => {
      if (!addon.planSchedule) reject(new Error('this engine addon has no planSchedule'));
      else resolve(addon.planSchedule(argv, documents));
    }),
    previewDataset: (path, options) => (addon.previewDataset ? addon.previewDataset(path, options) : Promise.reject(new Error('this engine addon has no previewDataset'))),
  };
}
