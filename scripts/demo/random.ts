/*
 * Seeded randomness for the demo bots: a small PRNG (mulberry32) so that a run with the same seed
 * makes the same choices, and the drifting reference price the market makers quote around.
 */

export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [min, max] (both included). */
  int(min: number, max: number): number;
  /** Standard normal (Box–Muller). */
  normal(): number;
}

export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  return {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    normal: () => {
      const u = 1 - next(); // (0, 1]: log stays finite
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
    },
  };
}

/** Where the market makers quote: read at any time, it moves on by itself. */
export interface PriceReference {
  price(): number;
}

export interface RandomWalkOptions {
  /** The price it starts at and is pulled back towards. */
  readonly start: number;
  readonly seed: number;
  /** Standard deviation of one step's log return (0.001 = 10 bps). Default 0.0008. */
  readonly volatility?: number;
  /** Share of the log distance to `start` taken back each step (0 = pure random walk). Default 0.01. */
  readonly meanReversion?: number;
  /** Milliseconds per step. Default 500. */
  readonly stepMs?: number;
  readonly clock?: () => number;
}

/**
 * A seeded random walk in log price with a gentle pull back to the start (so an hour-long demo does
 * not wander off to zero or the moon). Lazy: `price()` applies the steps whose time has come.
 */
export function randomWalk(options: RandomWalkOptions): PriceReference {
  const { start, seed } = options;
  if (!(start > 0)) throw new Error(`randomWalk: start must be positive, got ${start}`);
  const volatility = options.volatility ?? 0.0008;
  const reversion = options.meanReversion ?? 0.01;
  const stepMs = options.stepMs ?? 500;
  const clock = options.clock ?? Date.now;
  const random = seededRandom(seed);
  let logDistance = 0;
  let steppedAt = clock();
  return {
    price() {
      const now = clock();
      // At most 1,000 steps at once (a laptop waking from sleep).
      const steps = Math.min(1_000, Math.floor((now - steppedAt) / stepMs));
      for (let i = 0; i < steps; i++) {
        logDistance = logDistance * (1 - reversion) + volatility * random.normal();
      }
      steppedAt += steps * stepMs;
      if (steps === 1_000) steppedAt = now;
      return start * Math.exp(logDistance);
    },
  };
}
