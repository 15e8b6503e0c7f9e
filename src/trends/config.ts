import { z } from 'zod/v4';
import { PriceSourcesEnv } from './priceSources.ts';
import { TrendSourcesEnv } from './trendPull.ts';

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
  /**
   * Several reference-price sources, aggregated (a JSON array, src/trends/priceSources.ts); when
   * set, the fetch-external-prices job reads these instead of PRICE_SOURCE_URL.
   */
  PRICE_SOURCES: PriceSourcesEnv.optional(),
  /** A quote older than this is stale (dropped). */
  PRICE_MAX_AGE_MS: positiveInt(120_000),
  /** A quote farther than this from the median (basis points of it) is an outlier (rejected). */
  PRICE_OUTLIER_BPS: z.coerce.number().int().min(1).max(10_000).default(300),
  /** Fewest agreeing fresh quotes for a price. */
  PRICE_MIN_SOURCES: positiveInt(1),
  /**
   * Trend metrics sources the pull-trends job reads (a JSON array of {name, url}; the format is
   * docs/trends.md's); unset: no pulling.
   */
  TREND_SOURCES: TrendSourcesEnv.optional(),
  TREND_PULL_INTERVAL_MS: positiveInt(30_000),
  /** The update-token-metadata job's valuation source (docs/trends.md); unset: no pulling. */
  RWA_VALUATION_SOURCE_URL: z.url().optional(),
  RWA_VALUATION_INTERVAL_MS: positiveInt(86_400_000),
};
