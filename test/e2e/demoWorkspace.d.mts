export function writeDemoCorpus(path: string, lines?: number): void;
export function prepareDemo(engine: string, workspace: string): string | undefined;
