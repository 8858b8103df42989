import type { SoakWorld } from './engineSoak.mjs';
export interface DataWindowFigures {
  trials: number; dataChanged: number; signalDeaths: number; otherEnds: number; resumeWhole: number;
  resumedAtLastStep: number; worstMs: number; problems: string[];
}
export function dataWindowTrials(world: SoakWorld, options: { trials: number; seed?: number }): Promise<DataWindowFigures>;
