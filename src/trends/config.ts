import { z } from 'zod/v4';

/*
 * The environment of trend markets, as a zod shape for src/config.ts to spread into its schema
 * (docs/trends.md lists them with their defaults).
 */

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

export const TRENDS_ENV = {
  /** POST /trends per token subject: updates per second, and the burst. */
  TRENDS_RATE_PER_S: positiveInt(200),
  TRENDS_RATE_BURST: positiveInt(400),
  /** trend.detected when the score reaches this (points, 0..100) with a positive velocity. */
  TREND_DETECT_SCORE: z.coerce.number().min(0).max(100).default(70),
  /** market.breakout beyond the last prices' range by more than this (basis points). */
  TREND_BREAKOUT_BPS: z.coerce.number().int().min(1).max(10_000).default(500),
};
