import { z } from 'zod/v4';
import { TradingTerms } from '../protocol/schemas.ts';
import { MAX_SIMULATION_STEPS } from './simulation.ts';

/*
 * The trend routes' bodies (PROTOCOL v1.1, Trend markets; docs/trends.md "Ingestion"), parsed at
 * the boundary. Ranges: viralityScore 0..100, sentiment −1..1, velocity −100..100 (% per hour),
 * engagementRate 0..1, volume a non-negative integer; topic 1..200 characters after trimming;
 * region 2–3 letters (upper-cased); `ts` (ms) at most 7 days old and 5 minutes ahead.
 */

export const MAX_TOPIC_CHARS = 200;
export const MAX_TS_AGE_MS = 7 * 24 * 3_600_000;
export const MAX_TS_AHEAD_MS = 5 * 60_000;

// zod 4's z.number() refuses NaN and ±Infinity.
export const TrendMetrics = z.object({
  viralityScore: z.number().min(0).max(100),
  sentiment: z.number().min(-1).max(1),
  velocity: z.number().min(-100).max(100),
  engagementRate: z.number().min(0).max(1).optional(),
  volume: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
});
export type TrendMetrics = z.infer<typeof TrendMetrics>;

export const TrendBody = z.object({
  topic: z.string().trim().min(1, 'must not be empty').max(MAX_TOPIC_CHARS),
  region: z
    .string()
    .trim()
    .toUpperCase()
    .regex(/^[A-Z]{2,3}$/, '2-3 letters (an ISO 3166 country code such as SA)'),
  category: z.string().trim().min(1).max(32).optional(),
  metrics: TrendMetrics,
  ts: z.number().int().min(0).optional(),
});
export type TrendBody = z.infer<typeof TrendBody>;

/** POST /trends/markets: a trend symbol listed as a market with its pricing terms. */
export const TrendMarketBody = z.object({
  symbol: z
    .string()
    .regex(/^VIRAL\/[A-Z]{2,3}_[A-Z0-9_]+_[0-9]{3,}$/, 'a trend symbol such as VIRAL/SA_DJ_ZINHLE_001'),
  /** The market's base asset (created as a `crypto` asset when missing); derived from the symbol by default. */
  baseAsset: z.string().min(1).max(16).optional(),
  quoteAsset: z.string().min(1).max(16),
  basePrice: z.string().min(1).max(40),
  /** Quote per point of Δscore at multiplier and weight 1 (default 1 % of basePrice). */
  pointValue: z.string().min(1).max(40).optional(),
  /** The lowest index price (default 10 % of basePrice). */
  floorPrice: z.string().min(1).max(40).optional(),
  /** ΔViralityScore is measured from this (default: the symbol's latest score, else 0). */
  baselineScore: z.number().min(0).max(100).optional(),
  ...TradingTerms.shape,
});
export type TrendMarketBody = z.infer<typeof TrendMarketBody>;

export const SimulationQuery = z.object({
  from: z.coerce.number().int().min(0),
  to: z.coerce.number().int().min(0),
  steps: z.coerce.number().int().min(1).max(MAX_SIMULATION_STEPS).default(100),
  seed: z.coerce.number().int().min(0).max(0xffffffff).optional(),
});

/** The answer of GET /market/:symbol (PROTOCOL v1.1), exactly. */
export const TrendMarketView = z.object({
  symbol: z.string(),
  name: z.string(),
  currentPrice: z.string(),
  priceChange: z.string(),
  priceChangePercent: z.number(),
  volume: z.string(),
  viralityScore: z.number(),
  sentiment: z.number(),
  lastUpdated: z.number().int(),
});
export type TrendMarketView = z.infer<typeof TrendMarketView>;

export const TrendAccepted = z.object({
  symbol: z.string(),
  topic: z.string(),
  region: z.string(),
  created: z.boolean(),
  ts: z.number().int(),
  viralityScore: z.number(),
  sentiment: z.number(),
  velocity: z.number(),
  marketId: z.string().optional(),
  market: z.string().optional(),
  indexPrice: z.string().optional(),
});
export type TrendAccepted = z.infer<typeof TrendAccepted>;

/** The first issue's field path, for the error body's `field`. */
export function firstField(error: z.ZodError): string | undefined {
  const path = error.issues[0]?.path;
  return path === undefined || path.length === 0 ? undefined : path.join('.');
}

/** POST /markets/:id/valuations (src/trends/valuations.ts). */
const DECIMAL = /^(0|[1-9][0-9]{0,29})(?:\.([0-9]{1,18}))?$/;

export const ValuationBody = z.object({
  /** The asset's total value, a decimal string in the market's quote units. */
  value: z.string().regex(DECIMAL, 'a positive decimal string such as "1250000.00"'),
  currency: z.string().trim().min(1).max(16),
  valuationDate: z.iso.date(),
  documentRef: z.string().trim().min(1).max(200),
  source: z.string().trim().min(1).max(64).optional(),
});
export type ValuationBody = z.infer<typeof ValuationBody>;
