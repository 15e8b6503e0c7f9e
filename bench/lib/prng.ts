/**
 * mulberry32: a tiny seeded 32-bit PRNG. Deterministic for a given seed, integer-only (uint32 out),
 * good enough to shape a benchmark stream (not for anything cryptographic).
 */
export class Prng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Next uint32. */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Integer in [0, n), n <= 2^32 (modulo bias is negligible for the small n used here). */
  int(n: number): number {
    return this.next() % n;
  }

  /** True with probability percent / 100. */
  chance(percent: number): boolean {
    return this.int(100) < percent;
  }
}
