import { z } from 'zod/v4';
import { compareProducts, FLAT, HOLD, LONG, type Strategy } from '../strategy.ts';

/**
 * `mean_reversion`: against the SMA of the last `window` closes. Long all-in when the close is
 * more than `entryBps` below it (close < SMA × (1 − entryBps/10,000)); flat once the close is back
 * at or above SMA × (1 + exitBps/10,000) (exitBps 0: at the average). Exact: close × window ×
 * 10,000 against sum × (10,000 ∓ bps). First decision at bar `window` − 1.
 */
export const MeanReversionParams = z
  .object({
    window: z.number().int().min(2).max(5_000),
    entryBps: z.number().int().min(1).max(9_999).default(200),
    exitBps: z.number().int().min(0).max(10_000).default(0),
  })
  .strict();
export type MeanReversionParams = z.infer<typeof MeanReversionParams>;

export const meanReversion: Strategy<MeanReversionParams> = {
  id: 'mean_reversion',
  rule: 'long when the close is entryBps below SMA(window), flat when back at SMA + exitBps',
  params: MeanReversionParams,
  longestWindow: (p) => p.window,
  create({ window, entryBps, exitBps }, series) {
    const c = series.c;
    const below = 10_000 - entryBps;
    const above = 10_000 + exitBps;
    let sum = 0;
    return (i, holding) => {
      const close = c[i]!;
      sum += close;
      if (i >= window) sum -= c[i - window]!;
      if (i < window - 1) return HOLD;
      // close × window × 10,000 stays exact: close × window ≤ MAX_PRICE_SUM by validation, and
      // compareProducts falls back to bigints near equality.
      const scaled = close * window;
      if (!holding && compareProducts(scaled, 10_000, sum, below) === -1) return LONG;
      if (holding && compareProducts(scaled, 10_000, sum, above) >= 0) return FLAT;
      return HOLD;
    };
  },
};
