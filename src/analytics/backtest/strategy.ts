import type { z } from 'zod/v4';
import type { Series } from './series.ts';

/*
 * A strategy is a small pure module: a zod schema of its parameters (cross-field rules included,
 * so a bad config names its field), the longest window it reads (fewer bars than that is a bad
 * config), what trend data it needs, and a decider made once per run. The decider is called at
 * each bar's close, in order, with whether the run holds a position; it answers the position it
 * wants from the next fill on. It reads only bars up to and including `i` (no look-ahead), keeps
 * its own running state, and never touches money: the fill model turns targets into fills.
 */

/** The position a strategy wants: long all-in, flat, or no change. */
export const LONG = 1;
export const FLAT = 0;
export const HOLD = -1;
export type Target = typeof LONG | typeof FLAT | typeof HOLD;

export type Decider = (i: number, holding: boolean) => Target;

export interface Strategy<P = unknown> {
  readonly id: string;
  /** One line: the rule, as docs/analytics.md states it. */
  readonly rule: string;
  readonly params: z.ZodType<P>;
  /** Bars the rule needs before its first decision can be made (the config needs at least this many). */
  longestWindow(params: P): number;
  /** Per-bar trend columns the rule reads. */
  readonly needs?: readonly ('viralityScore' | 'sentiment')[];
  create(params: P, series: Series): Decider;
}

/** A strategy with its parameter type erased, as the registry holds it. */
export type AnyStrategy = Strategy<never> & {
  readonly params: z.ZodType;
  longestWindow(params: unknown): number;
  create(params: unknown, series: Series): Decider;
};

/**
 * Whether a × m > b × k (1), equal (0) or less (-1), exactly, for non-negative safe integers: the
 * doubles decide unless the products are within their rounding error of each other, then bigints
 * do (rare; the fast path keeps the bar loop at millions of bars per second).
 */
export function compareProducts(a: number, m: number, b: number, k: number): -1 | 0 | 1 {
  const x = a * m;
  const y = b * k;
  const bound = (x > y ? x : y) * 4.5e-16; // > 2 ulp of the larger product
  if (x - y > bound) return 1;
  if (y - x > bound) return -1;
  const big = BigInt(a) * BigInt(m) - BigInt(b) * BigInt(k);
  return big > 0n ? 1 : big < 0n ? -1 : 0;
}
