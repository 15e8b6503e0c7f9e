import { z } from 'zod/v4';
import { FLAT, HOLD, LONG, type Strategy } from '../strategy.ts';

/**
 * `trend_momentum` (trend markets; the blueprint's parameters): long all-in at a close where the
 * bar's `viralityScore` ≥ `minViralityScore` and its `sentiment` ≥ `sentimentThreshold`; flat
 * after `holdPeriod` bars held (counted from the fill), or earlier at a close whose sentiment
 * falls below −`sentimentThreshold` when that is positive (the story turned). The metrics are
 * signals, not money: doubles.
 */
export const TrendMomentumParams = z
  .object({
    minViralityScore: z.number().min(0).max(1_000_000),
    sentimentThreshold: z.number().min(-1).max(1).default(0),
    holdPeriod: z.number().int().min(1).max(100_000),
  })
  .strict();
export type TrendMomentumParams = z.infer<typeof TrendMomentumParams>;

export const trendMomentum: Strategy<TrendMomentumParams> = {
  id: 'trend_momentum',
  rule: 'long when virality ≥ minViralityScore and sentiment ≥ sentimentThreshold; flat after holdPeriod bars',
  params: TrendMomentumParams,
  longestWindow: () => 1,
  needs: ['viralityScore', 'sentiment'],
  create({ minViralityScore, sentimentThreshold, holdPeriod }, series) {
    const virality = series.viralityScore;
    const sentiment = series.sentiment;
    if (virality === undefined || sentiment === undefined)
      throw new Error('trend_momentum needs viralityScore and sentiment columns');
    let heldSince = -1;
    return (i, holding) => {
      if (!holding) {
        heldSince = -1;
        return virality[i]! >= minViralityScore && sentiment[i]! >= sentimentThreshold ? LONG : HOLD;
      }
      // The fill happened at bar heldSince's open: the first close seen holding.
      if (heldSince === -1) heldSince = i;
      const held = i - heldSince + 1;
      if (held >= holdPeriod) return FLAT;
      if (sentimentThreshold > 0 && sentiment[i]! < -sentimentThreshold) return FLAT;
      return HOLD;
    };
  },
};
