import { z } from 'zod/v4';
import { compareProducts, FLAT, HOLD, LONG, type Strategy } from '../strategy.ts';

/**
 * `momentum`: the rate of change over `lookback` bars, ROC = close / close[lookback bars ago] − 1.
 * Long all-in when ROC > `thresholdBps` / 10,000; flat when ROC < −`thresholdBps` / 10,000; in
 * between, no change. Exact: close × 10,000 is compared with the earlier close × (10,000 ± threshold).
 * First decision at bar `lookback`.
 */
export const MomentumParams = z
  .object({
    lookback: z.number().int().min(1).max(5_000),
    thresholdBps: z.number().int().min(0).max(10_000).default(0),
  })
  .strict();
export type MomentumParams = z.infer<typeof MomentumParams>;

export const momentum: Strategy<MomentumParams> = {
  id: 'momentum',
  rule: 'long when the return over lookback bars is above +threshold, flat when below −threshold',
  params: MomentumParams,
  longestWindow: (p) => p.lookback + 1,
  create({ lookback, thresholdBps }, series) {
    const c = series.c;
    const up = 10_000 + thresholdBps;
    const down = 10_000 - thresholdBps;
    return (i, holding) => {
      if (i < lookback) return HOLD;
      const close = c[i]!;
      const then = c[i - lookback]!;
      if (!holding && compareProducts(close, 10_000, then, up) === 1) return LONG;
      if (holding && compareProducts(close, 10_000, then, down) === -1) return FLAT;
      return HOLD;
    };
  },
};
