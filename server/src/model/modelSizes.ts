// Official RWKV model sizes (FACTS.md "Model sizes"; RWKV-6 names map to the same shapes) and
// reading the size out of a checkpoint's file name. One place for the table.

export interface ModelSize { size: string; nLayer: number; nEmbd: number; aliases: string[] }

export const MODEL_SIZES: readonly ModelSize[] = [
  { size: '0.1B', nLayer: 12, nEmbd: 768, aliases: ['0.1b', '0b1', '100m', '191m', '0.19b'] },
  { size: '0.4B', nLayer: 24, nEmbd: 1024, aliases: ['0.4b', '0b4', '400m', '450m', '0.45b'] },
  { size: '1.5B', nLayer: 24, nEmbd: 2048, aliases: ['1.5b', '1b5', '1.6b', '1b6'] },
  { size: '2.9B', nLayer: 32, nEmbd: 2560, aliases: ['2.9b', '2b9', '3b'] },
  { size: '7.2B', nLayer: 32, nEmbd: 4096, aliases: ['7.2b', '7b2', '7b'] },
  { size: '13.3B', nLayer: 61, nEmbd: 4096, aliases: ['13.3b', '13b3', '13b', '14b'] },
];

/** The model size named in a checkpoint file name (`rwkv7-g1-1.5b-...pth`, `3b.pth`), if any. */
export function sizeFromFileName(path: string): ModelSize | undefined {
  const base = (path.split(/[\\/]/).pop() ?? '').toLowerCase();
  const tokens = base.replace(/\.pth$/, '').split(/[-_\s]+/);
  for (const t of tokens) {
    for (const s of MODEL_SIZES) if (s.aliases.includes(t)) return s;
  }
  return undefined;
}
