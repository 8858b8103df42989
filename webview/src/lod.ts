// Level of detail for long runs: a series keeps at most `maxBuckets` buckets of consecutive
// points and gives the chart each bucket's minimum and maximum (in x order), so spikes stay
// visible while a frame costs the same at 1 k or 1 M steps. When the buckets run out, pairs
// merge (bucket size doubles): appending is amortized O(1). chart.js's own decimation then
// thins what is drawn to the canvas width.
export interface XY { x: number; y: number }

interface Bucket { min: XY; max: XY; n: number }

export class LodSeries {
  /** What the chart draws: min/max of each bucket, in x order. Mutated in place. */
  readonly data: XY[] = [];
  private readonly buckets: Bucket[] = [];
  private bucketSize = 1;
  count = 0;
  first: XY | undefined;
  last: XY | undefined;

  constructor(readonly maxBuckets = 2048) {}

  push(p: XY): void {
    this.count++;
    this.first ??= p;
    this.last = p;
    const tail = this.buckets[this.buckets.length - 1];
    if (tail && tail.n < this.bucketSize) {
      if (p.y < tail.min.y) tail.min = p;
      if (p.y >= tail.max.y) tail.max = p;
      tail.n++;
      this.rewriteTail(tail);
      return;
    }
    const bucket: Bucket = { min: p, max: p, n: 1 };
    this.buckets.push(bucket);
    if (this.buckets.length > this.maxBuckets) this.merge();
    else this.emit(bucket);
  }

  clear(): void {
    this.data.length = 0;
    this.buckets.length = 0;
    this.bucketSize = 1;
    this.count = 0;
    this.first = this.last = undefined;
  }

  private emit(b: Bucket): void {
    if (b.min === b.max) this.data.push(b.min);
    else if (b.min.x <= b.max.x) this.data.push(b.min, b.max);
    else this.data.push(b.max, b.min);
  }

  /** The tail bucket changed: replace its 1 or 2 points at the end of `data`. */
  private rewriteTail(tail: Bucket): void {
    const prev = this.buckets.length >= 2 ? this.buckets[this.buckets.length - 2] : undefined;
    // Points before the tail bucket: everything up to and including prev's points.
    let keep = this.data.length;
    while (keep > 0) {
      const q = this.data[keep - 1];
      if (prev && (q === prev.min || q === prev.max)) break;
      keep--;
    }
    if (!prev) keep = 0;
    this.data.length = keep;
    this.emit(tail);
  }

  private merge(): void {
    this.bucketSize *= 2;
    const merged: Bucket[] = [];
    for (let i = 0; i < this.buckets.length; i += 2) {
      const a = this.buckets[i], b = this.buckets[i + 1];
      if (!b) { merged.push(a); continue; }
      merged.push({ min: b.min.y < a.min.y ? b.min : a.min, max: b.max.y >= a.max.y ? b.max : a.max, n: a.n + b.n });
    }
    this.buckets.length = 0;
    this.buckets.push(...merged);
    this.data.length = 0;
    for (const bucket of this.buckets) this.emit(bucket);
  }
}
