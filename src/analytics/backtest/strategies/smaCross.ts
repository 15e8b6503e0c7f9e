import { z } from 'zod/v4';
import { compareProducts, FLAT, HOLD, LONG, type Strategy } from '../strategy.ts';

/**
 * `sma_cross` (PROTOCOL v1.1): long all-in when the SMA of the last `fast` closes crosses above
 * the SMA of the last `slow` closes, flat when it crosses below. A cross is a change of the sign
 * of fastSMA − slowSMA between the previous close and this one (equal counts as neither side, so
 * "above" means strictly above after being at or below); the first decision is at bar `slow`
 * (0-based), the first bar with both averages at the bar before it too. Exact: the averages are
 * compared as sumFast × slow against sumSlow × fast in integers.
 */
export const SmaCrossParams = z
  .object({
    fast: z.number().int().min(1).max(5_000),
    slow: z.number().int().min(2).max(5_000),
  })
  .strict()
  .refine((p) => p.fast < p.slow, { message: 'fast must be less than slow', path: ['fast'] });
export type SmaCrossParams = z.infer<typeof SmaCrossParams>;

export const smaCross: Strategy<SmaCrossParams> = {
  id: 'sma_cross',
  rule: 'long when SMA(fast) crosses above SMA(slow), flat when it crosses below',
  params: SmaCrossParams,
  longestWindow: (p) => p.slow,
  create({ fast, slow }, series) {
    const c = series.c;
    let sumFast = 0;
    let sumSlow = 0;
    let previous: -1 | 0 | 1 | undefined;
    return (i, holding) => {
      const close = c[i]!;
      sumFast += close;
      sumSlow += close;
      if (i >= fast) sumFast -= c[i - fast]!;
      if (i >= slow) sumSlow -= c[i - slow]!;
      if (i < slow - 1) return HOLD;
      const side = compareProducts(sumFast, slow, sumSlow, fast);
      const before = previous;
      if (side !== 0 || before === undefined) previous = side;
      if (before === undefined) return HOLD;
      if (side === 1 && before !== 1) return holding ? HOLD : LONG;
      if (side === -1 && before !== -1) return holding ? FLAT : HOLD;
      return HOLD;
    };
  },
};
