/**
 * Token buckets per key (a user id): `ratePerSecond` tokens refill continuously up to `burst`; a
 * request takes one or is refused. Integer arithmetic in millitokens, time from a monotonic clock.
 * Memory is bounded: buckets that have refilled completely carry no information and are swept.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { milli: number; at: number }>();
  private readonly burstMilli: number;
  private lastSweep: number;

  constructor(
    private readonly ratePerSecond: number,
    burst: number,
    private readonly now: () => number = () => performance.now(),
    private readonly maxKeys = 100_000,
  ) {
    this.burstMilli = burst * 1000;
    this.lastSweep = now();
  }

  take(key: string): boolean {
    const now = this.now();
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      if (this.buckets.size >= this.maxKeys) this.sweep(now);
      bucket = { milli: this.burstMilli, at: now };
      this.buckets.set(key, bucket);
    } else {
      const refill = Math.floor((now - bucket.at) * this.ratePerSecond);
      if (refill > 0) {
        bucket.milli = Math.min(this.burstMilli, bucket.milli + refill);
        bucket.at = now;
      }
    }
    if (now - this.lastSweep > 60_000) this.sweep(now);
    if (bucket.milli < 1000) return false;
    bucket.milli -= 1000;
    return true;
  }

  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [key, bucket] of this.buckets) {
      if (bucket.milli + (now - bucket.at) * this.ratePerSecond >= this.burstMilli) this.buckets.delete(key);
    }
  }
}
