/*
 * The virality pricing engine (PROTOCOL v1.1, Trend markets; docs/trends.md "Pricing"):
 *
 *   Price = BasePrice + ΔViralityScore × VelocityMultiplier × SentimentWeight × PointValue
 *
 * in integer ticks of the trend market, pure and deterministic. The metrics enter as integers
 * scaled at the edge (metrics.ts): the score in hundredths of a point (0..10000 = 0..100), the
 * velocity in hundredths of a percent per hour (−10000..10000 = −100..100 %/h), the sentiment in
 * basis points (−10000..10000 = −1..1).
 *
 * - ΔViralityScore = score − the market's baseline score (the score when it was listed).
 * - VelocityMultiplier = 1 + velocity / (100 %/h): 0 at −100 %/h (the topic is dying), 1 when
 *   steady, 2 at +100 %/h.
 * - SentimentWeight = 1 + sentiment: 0 when wholly negative (bad news lifts nothing), 1 neutral, 2
 *   wholly positive.
 * - PointValue: ticks per point of Δscore at multiplier and weight 1 (set at listing; default 1 %
 *   of the base price).
 *
 * Rounding: the product is exact (bigint); the one division rounds half up (towards +∞), which is
 * monotone. Bounds: the result is clamped to [floor, cap]: the floor (set at listing, at least one
 * tick; default 10 % of the base price) and the cap, 1000 × the base price, kept within safe
 * integers so the tick count always formats.
 */

export const SCORE_SCALE = 100;
export const VELOCITY_SCALE = 100;
export const SENTIMENT_SCALE = 10_000;
export const MAX_SCORE = 100 * SCORE_SCALE;
export const MAX_VELOCITY = 100 * VELOCITY_SCALE;
export const CAP_MULTIPLE = 1_000;

/** One metrics update as the engine reads it (integers, see above). */
export interface ScaledMetrics {
  readonly scoreCenti: number;
  readonly velocityCenti: number;
  readonly sentimentBp: number;
}

/** A trend market's pricing terms, in its ticks. */
export interface PricingTerms {
  readonly baseTicks: number;
  readonly pointTicks: number;
  readonly floorTicks: number;
  readonly baselineCenti: number;
}

/** VelocityMultiplier's denominator × SentimentWeight's × the score's. */
const DENOMINATOR = BigInt(SCORE_SCALE) * BigInt(100 * VELOCITY_SCALE) * BigInt(SENTIMENT_SCALE);

/** Default terms for a base price: a point is 1 % of it, the floor 10 % (each at least a tick). */
export function defaultTerms(baseTicks: number, baselineCenti = 0): PricingTerms {
  return {
    baseTicks,
    pointTicks: Math.max(1, Math.round(baseTicks / 100)),
    floorTicks: Math.max(1, Math.ceil(baseTicks / 10)),
    baselineCenti,
  };
}

/** Throws RangeError on terms that break the engine's bounds (config and listing check them first). */
export function checkTerms(terms: PricingTerms): void {
  const { baseTicks, pointTicks, floorTicks, baselineCenti } = terms;
  const cap = capOf(baseTicks);
  if (!Number.isSafeInteger(baseTicks) || baseTicks < 1)
    throw new RangeError('the base price must be a positive number of ticks');
  if (!Number.isSafeInteger(pointTicks) || pointTicks < 0)
    throw new RangeError('the point value must be a non-negative number of ticks');
  if (!Number.isSafeInteger(floorTicks) || floorTicks < 1 || floorTicks > baseTicks)
    throw new RangeError('the floor must be from one tick to the base price');
  if (!Number.isSafeInteger(baselineCenti) || baselineCenti < 0 || baselineCenti > MAX_SCORE)
    throw new RangeError('the baseline score must be within 0..100');
  if (cap < baseTicks) throw new RangeError('the base price is too large');
}

function capOf(baseTicks: number): number {
  return Math.min(Number.MAX_SAFE_INTEGER, baseTicks * CAP_MULTIPLE);
}

/** Integer division rounded half up (towards +∞), for a positive denominator. */
export function divRoundHalfUp(numerator: bigint, denominator: bigint): bigint {
  const twice = 2n * numerator + denominator;
  const d = 2n * denominator;
  const q = twice / d;
  // bigint division truncates towards zero: step down for a negative remainder.
  return twice % d < 0n ? q - 1n : q;
}

/** The formula's price in ticks, within [floor, cap]. */
export function trendPrice(terms: PricingTerms, metrics: ScaledMetrics): number {
  const velocity = clamp(metrics.velocityCenti, -MAX_VELOCITY, MAX_VELOCITY);
  const sentiment = clamp(metrics.sentimentBp, -SENTIMENT_SCALE, SENTIMENT_SCALE);
  const score = clamp(metrics.scoreCenti, 0, MAX_SCORE);
  const delta = BigInt(score - terms.baselineCenti);
  const product =
    delta *
    BigInt(100 * VELOCITY_SCALE + velocity) *
    BigInt(SENTIMENT_SCALE + sentiment) *
    BigInt(terms.pointTicks);
  const moved = BigInt(terms.baseTicks) + divRoundHalfUp(product, DENOMINATOR);
  const cap = BigInt(capOf(terms.baseTicks));
  const floor = BigInt(terms.floorTicks);
  return Number(moved < floor ? floor : moved > cap ? cap : moved);
}

function clamp(value: number, min: number, max: number): number {
  return value < min ? min : value > max ? max : value;
}
