// What "Preview Dataset" asks the server for, from how it was invoked: a file (explorer, editor,
// the lens at the top of a .jsonl) or the server's lens above a script's data_file, which
// already says how that call reads the data. Pure (no vscode), so tests check it.

export interface PreviewRequest {
  path: string;
  options: { dataType?: 'binidx' | 'jsonl' | 'sft'; ctxLen?: number; lossMask?: string; sftFields?: string[]; magicPrime?: boolean };
}

/** A file path: .bin/.idx → its binidx prefix; .jsonl → jsonl; anything else: not a dataset. */
export function requestForFile(fsPath: string): PreviewRequest | undefined {
  if (/\.(bin|idx)$/i.test(fsPath)) return { path: fsPath.replace(/\.(bin|idx)$/i, ''), options: { dataType: 'binidx' } };
  if (/\.jsonl$/i.test(fsPath)) return { path: fsPath, options: { dataType: 'jsonl' } };
  return undefined;
}

/** The server lens's argument ({ path, options }), checked field by field. */
export function requestFromLens(arg: unknown): PreviewRequest | undefined {
  const a = arg as { path?: unknown; options?: Record<string, unknown> } | undefined;
  if (!a || typeof a.path !== 'string' || !a.path) return undefined;
  const o = a.options ?? {};
  const options: PreviewRequest['options'] = {};
  if (o.dataType === 'binidx' || o.dataType === 'jsonl' || o.dataType === 'sft') options.dataType = o.dataType;
  if (typeof o.ctxLen === 'number' && o.ctxLen > 0) options.ctxLen = o.ctxLen;
  if (typeof o.lossMask === 'string') options.lossMask = o.lossMask;
  if (Array.isArray(o.sftFields)) options.sftFields = o.sftFields.map(String);
  if (o.magicPrime === true) options.magicPrime = true;
  return { path: a.path, options };
}
