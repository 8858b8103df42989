export const STEPS_PER_EPOCH: number;
export const EPOCHS: number;
export type Variant = 'full' | 'lora';
export interface SoakWorld { engine: string; dir: string; argv: (projDir: string, variant: Variant) => string[] }
export interface SoakFigures {
  trials: number; launches: number; kills: number; killsByKind: Record<'mid-step' | 'mid-checkpoint' | 'startup', number>;
  maxStepsLost: number; stepsLostTotal: number; lossMismatches: number; stepsCompared: number; filesChecked: number;
  badFiles: number; staleTemps: number; badMetricLines: number; finalFilesDiffer: number; failedLaunches: number; problems: string[];
}
export function rng(seed: number): (n: number) => number;
export function makeSoakWorld(engine: string, dir: string): SoakWorld;
export function launch(world: SoakWorld, projDir: string, variant: Variant, plan?: unknown): Promise<{ events: Record<string, unknown>[]; lastStep: number; code: number | null; signal: string | null; killedBySoak: boolean }>;
export function soak(world: SoakWorld, options: { trials: number; killsPerTrial?: number; seed?: number; onTrial?: (f: SoakFigures) => void }): Promise<SoakFigures>;
