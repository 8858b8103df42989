export function demoDocuments(count?: number): Buffer[];
export function writeBinidx(prefix: string, docs: Buffer[]): void;
export function prepareDemo(engine: string, workspace: string): string | undefined;
export function demoArgv(o: { projDir?: string; epochSteps?: number; epochCount?: number; magicPrime: number }): string[];
export function demoMagicPrime(workspace: string): number;
export function probeTraining(engine: string, workspace: string): string | undefined;
