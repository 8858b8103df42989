// Official RWKV model sizes (FACTS.md "Model sizes"; the tutorials' RWKV-6 rows: 1.6B 24/2048,
// 3B 32/2560, 7B 32/4096) and reading the size out of a checkpoint's file name. One place for
// the table; each row says which generation (--my_testing) it belongs to.

export type SizeVersion = 'x070' | 'x060';
export interface ModelSize { size: string; version: SizeVersion; nLayer: number; nEmbd: number; aliases: string[] }

export const MODEL_SIZES: readonly ModelSize[] = [
  { size: '0.1B', version: 'x070', nLayer: 12, nEmbd: 768, aliases: ['0.1b', '0b1', '100m', '191m', '0.19b'] },
  { size: '0.4B', version: 'x070', nLayer: 24, nEmbd: 1024, aliases: ['0.4b', '0b4', '400m', '450m', '0.45b'] },
  { size: '1.5B', version: 'x070', nLayer: 24, nEmbd: 2048, aliases: ['1.5b', '1b5', '1.6b', '1b6'] },
  { size: '2.9B', version: 'x070', nLayer: 32, nEmbd: 2560, aliases: ['2.9b', '2b9', '3b'] },
  { size: '7.2B', version: 'x070', nLayer: 32, nEmbd: 4096, aliases: ['7.2b', '7b2', '7b'] },
  { size: '13.3B', version: 'x070', nLayer: 61, nEmbd: 4096, aliases: ['13.3b', '13b3', '13b', '14b'] },
  // RWKV-6 World (RWKV-x060-World-1B6-v2.1-...pth): the names differ, the shapes are the
  // RWKV-7 rows' (x060's dim_ffn and low-rank sizes follow from n_embd).
  { size: '1.6B', version: 'x060', nLayer: 24, nEmbd: 2048, aliases: ['1.6b', '1b6', '1.5b', '1b5'] },
  { size: '3B', version: 'x060', nLayer: 32, nEmbd: 2560, aliases: ['3b', '3.1b', '3b1', '2.9b', '2b9'] },
  { size: '7B', version: 'x060', nLayer: 32, nEmbd: 4096, aliases: ['7b', '7.6b', '7b6'] },
];

/** The generation a script's --my_testing names, when it is one the table has rows for. */
export function sizeVersion(myTesting: string | undefined): SizeVersion | undefined {
  return myTesting === 'x060' || myTesting === 'x070' ? myTesting : undefined;
}

/** The presets of one generation (RWKV-7 when the script does not say). */
export function sizesFor(version: SizeVersion | undefined): ModelSize[] {
  return MODEL_SIZES.filter((s) => s.version === (version ?? 'x070'));
}

/** "RWKV-7" / "RWKV-6": how labels name a generation. */
export function versionLabel(version: SizeVersion): string {
  return version === 'x060' ? 'RWKV-6' : 'RWKV-7';
}

/**
 * The model size named in a checkpoint file name (`rwkv7-g1-1.5b-...pth`, `3b.pth`,
 * `RWKV-x060-World-1B6-v2.1-...pth`), if any. The generation comes from the name (x060, rwkv6,
 * v6 tokens) or else from `version` (the script's --my_testing), RWKV-7 by default.
 */
export function sizeFromFileName(path: string, version?: SizeVersion): ModelSize | undefined {
  // several checks ask this of every run's load_model after every edit: remember recent answers
  const key = `${version ?? ''}\u0000${path}`;
  if (SIZE_OF.has(key)) return SIZE_OF.get(key);
  if (SIZE_OF.size > 256) SIZE_OF.clear();
  const size = sizeFromName(path, version);
  SIZE_OF.set(key, size);
  return size;
}
const SIZE_OF = new Map<string, ModelSize | undefined>();

function sizeFromName(path: string, version?: SizeVersion): ModelSize | undefined {
  const base = (path.split(/[\\/]/).pop() ?? '').toLowerCase();
  const tokens = base.replace(/\.pth$/, '').split(/[-_\s]+/);
  const named: SizeVersion | undefined = tokens.some((t) => t === 'x060' || t === 'rwkv6' || t === 'v6') ? 'x060'
    : tokens.some((t) => t === 'x070' || t === 'rwkv7' || t === 'v7') ? 'x070' : undefined;
  const rows = sizesFor(named ?? version);
  for (const t of tokens) {
    for (const s of rows) if (s.aliases.includes(t)) return s;
  }
  return undefined;
}
