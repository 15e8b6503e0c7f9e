/**
 * One token bucket: `ratePerSecond` tokens refill continuously up to `burst`; a request takes its
 * cost (default one token) or is refused. Integer arithmetic in millitokens, time in milliseconds
 * from a monotonic clock. Held per WebSocket connection (its frames, its subs, its snapshot
 * bytes): no key, no map, gone with the connection.
 */
export class TokenBucket {
  #milli: number;
  #at: number;
  readonly #burstMilli: number;

  constructor(
    private readonly ratePerSecond: number,
    burst: number,
    now: number,
  ) {
    this.#burstMilli = burst * 1000;
    this.#milli = this.#burstMilli;
    this.#at = now;
  }

  /** A cost above the burst needs a full bucket (and empties it): it is never refused for good. */
  take(now: number, cost = 1): boolean {
    // ms × tokens/s = millitokens; the fraction left over is kept by not moving `at` on 0.
    const refill = Math.floor((now - this.#at) * this.ratePerSecond);
    if (refill > 0) {
      this.#milli = Math.min(this.#burstMilli, this.#milli + refill);
      this.#at = now;
    }
    const milli = Math.min(cost * 1000, this.#burstMilli);
    if (this.#milli < milli) return false;
    this.#milli -= milli;
    return true;
  }

  /** True when the bucket is full again, so it carries no information (RateLimiter sweeps it). */
  full(now: number): boolean {
    return this.#milli + (now - this.#at) * this.ratePerSecond >= this.#burstMilli;
  }
}

/**
 * Token buckets per key (a user id, a source address). Memory is bounded: buckets that have
 * refilled completely carry no information and are swept, at the latest every minute or when
 * `maxKeys` are held; past `maxKeys` live buckets every new key shares one overflow bucket.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly overflow: TokenBucket;
  private lastSweep: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
    private readonly maxKeys = 100_000,
  ) {
    this.lastSweep = now();
    this.overflow = new TokenBucket(ratePerSecond, burst, this.lastSweep);
  }

  take(key: string): boolean {
    const now = this.now();
    if (now - this.lastSweep > 60_000) this.sweep(now);
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      if (this.buckets.size >= this.maxKeys) this.sweep(now);
      if (this.buckets.size >= this.maxKeys) return this.overflow.take(now);
      bucket = new TokenBucket(this.ratePerSecond, this.burst, now);
      this.buckets.set(key, bucket);
    }
    return bucket.take(now);
  }

  /** Keys held (for tests and metrics). */
  get size(): number {
    return this.buckets.size;
  }

  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [key, bucket] of this.buckets) if (bucket.full(now)) this.buckets.delete(key);
  }
}

/**
 * The key a per-address bound counts under, from uWS's getRemoteAddressAsText: IPv4 as dotted
 * text (also when uWS writes it IPv4-mapped, `0000:…:ffff:7f00:0001`), IPv6 as its /64 prefix,
 * since one host commonly holds a whole /64.
 */
export function sourceKey(address: string): string {
  if (!address.includes(':')) return address;
  const [head = '', tail] = address.split('::', 2);
  const front = head === '' ? [] : head.split(':');
  const back = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups =
    tail === undefined
      ? front
      : [...front, ...Array<string>(8 - front.length - back.length).fill('0'), ...back];
  const words = groups.map((g) => parseInt(g, 16));
  if (words.length !== 8 || words.some((w) => !Number.isInteger(w) || w < 0 || w > 0xffff)) return address;
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) {
    const [hi = 0, lo = 0] = words.slice(6);
    return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  }
  return `${words
    .slice(0, 4)
    .map((w) => w.toString(16))
    .join(':')}::/64`;
}

/**
 * Places held per key (a source address) under a cap per key and a cap in all: WebSocket
 * connections, HTTP requests being served. A key's entry exists only while it holds a place.
 */
export class Occupancy {
  readonly #byKey = new Map<string, number>();
  #total = 0;

  constructor(
    private readonly maxTotal: number,
    private readonly maxPerKey: number,
  ) {}

  /** Takes a place for `key`, or names the cap that refuses it. */
  enter(key: string): 'ok' | 'total' | 'per_key' {
    if (this.#total >= this.maxTotal) return 'total';
    const held = this.#byKey.get(key) ?? 0;
    if (held >= this.maxPerKey) return 'per_key';
    this.#byKey.set(key, held + 1);
    this.#total++;
    return 'ok';
  }

  leave(key: string): void {
    const held = this.#byKey.get(key);
    if (held === undefined) return;
    this.#total--;
    if (held <= 1) this.#byKey.delete(key);
    else this.#byKey.set(key, held - 1);
  }

  get total(): number {
    return this.#total;
  }
}
