// Reads `rwkv-train gpus` (one JSON object: {gpus: [{index, name, compute_capability,
// total_bytes, free_bytes}], driver_version, reason?}) or nvidia-smi's CSV into one list.
export interface GpuRow { index: number; name: string; capability?: string; totalBytes?: number; freeBytes?: number }
export interface GpuAnswer { gpus: GpuRow[]; driver?: string; reason?: string }

export function parseEngineGpus(text: string): GpuAnswer | undefined {
  const line = text.split('\n').find((l) => l.trim().startsWith('{'));
  if (!line) return undefined;
  try {
    const o = JSON.parse(line) as { gpus?: unknown; driver_version?: unknown; reason?: unknown };
    if (!Array.isArray(o.gpus)) return undefined;
    const gpus = o.gpus.filter((g): g is Record<string, unknown> => !!g && typeof g === 'object').map((g, i) => ({
      index: typeof g.index === 'number' ? g.index : i,
      name: typeof g.name === 'string' ? g.name : 'GPU',
      capability: typeof g.compute_capability === 'string' && g.compute_capability ? g.compute_capability : undefined,
      totalBytes: typeof g.total_bytes === 'number' ? g.total_bytes : undefined,
      freeBytes: typeof g.free_bytes === 'number' ? g.free_bytes : undefined,
    }));
    return { gpus, driver: typeof o.driver_version === 'string' && o.driver_version ? o.driver_version : undefined, reason: typeof o.reason === 'string' ? o.reason : undefined };
  } catch {
    return undefined;
  }
}

/** `nvidia-smi --query-gpu=index,name,memory.total,memory.free --format=csv,noheader,nounits` (MiB). */
export function parseNvidiaSmi(text: string): GpuAnswer {
  const gpus = text.split('\n').map((l) => l.split(',').map((s) => s.trim())).filter((f) => f.length >= 4 && /^\d+$/.test(f[0]))
    .map((f) => ({ index: Number(f[0]), name: f[1], totalBytes: Number(f[2]) * 1024 ** 2, freeBytes: Number(f[3]) * 1024 ** 2 }));
  return { gpus };
}

export function describeGpu(g: GpuRow): { label: string; description: string } {
  const gib = (b: number | undefined) => (b === undefined ? '?' : (b / 1024 ** 3).toFixed(1));
  return { label: `${g.index}: ${g.name}`, description: `${gib(g.freeBytes)} / ${gib(g.totalBytes)} GiB free${g.capability ? ` · sm ${g.capability}` : ''}` };
}
