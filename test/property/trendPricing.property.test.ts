import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CAP_MULTIPLE,
  defaultTerms,
  divRoundHalfUp,
  MAX_SCORE,
  MAX_VELOCITY,
  SENTIMENT_SCALE,
  trendPrice,
  type PricingTerms,
} from '../../src/trends/pricing.ts';
import { simulatePriceMovement, type RecordedMetrics } from '../../src/trends/simulation.ts';

const terms: fc.Arbitrary<PricingTerms> = fc
  .record({
    baseTicks: fc.integer({ min: 1, max: 1e12 }),
    pointTicks: fc.integer({ min: 0, max: 1e9 }),
    floorShare: fc.double({ min: 0, max: 1, noNaN: true }),
    baselineCenti: fc.integer({ min: 0, max: MAX_SCORE }),
  })
  .map(({ baseTicks, pointTicks, floorShare, baselineCenti }) => ({
    baseTicks,
    pointTicks,
    floorTicks: Math.max(1, Math.floor(baseTicks * floorShare)),
    baselineCenti,
  }));
const score = fc.integer({ min: 0, max: MAX_SCORE });
const velocity = fc.integer({ min: -MAX_VELOCITY, max: MAX_VELOCITY });
const sentiment = fc.integer({ min: -SENTIMENT_SCALE, max: SENTIMENT_SCALE });

/** The formula with exact rationals (the reference): base + Δ × (1 + v) × (1 + s) × point, rounded half up. */
function reference(t: PricingTerms, scoreCenti: number, velocityCenti: number, sentimentBp: number): number {
  const num =
    BigInt(scoreCenti - t.baselineCenti) *
    BigInt(10_000 + velocityCenti) *
    BigInt(10_000 + sentimentBp) *
    BigInt(t.pointTicks);
  const den = 10n ** 10n;
  // floor(num / den + 1/2) with exact rationals.
  const twice = 2n * num + den;
  let q = twice / (2n * den);
  if (twice < 0n && q * 2n * den !== twice) q -= 1n;
  const price = BigInt(t.baseTicks) + q;
  const floor = BigInt(t.floorTicks);
  const cap = BigInt(Math.min(Number.MAX_SAFE_INTEGER, t.baseTicks * CAP_MULTIPLE));
  return Number(price < floor ? floor : price > cap ? cap : price);
}

describe('the virality pricing formula', () => {
  it('is the reference formula (exact rationals, half up, floor and cap)', () => {
    fc.assert(
      fc.property(terms, score, velocity, sentiment, (t, s, v, m) => {
        expect(trendPrice(t, { scoreCenti: s, velocityCenti: v, sentimentBp: m })).toBe(
          reference(t, s, v, m),
        );
      }),
    );
  });

  it('is monotone in Δscore for positive velocity and sentiment', () => {
    fc.assert(
      fc.property(
        terms,
        score,
        score,
        fc.integer({ min: 1, max: MAX_VELOCITY }),
        fc.integer({ min: 1, max: SENTIMENT_SCALE }),
        (t, a, b, v, m) => {
          const [lo, hi] = a <= b ? [a, b] : [b, a];
          const low = trendPrice(t, { scoreCenti: lo, velocityCenti: v, sentimentBp: m });
          const high = trendPrice(t, { scoreCenti: hi, velocityCenti: v, sentimentBp: m });
          expect(high).toBeGreaterThanOrEqual(low);
        },
      ),
    );
  });

  it('never goes below the floor (nor above the cap), whatever the metrics, even out of range', () => {
    fc.assert(
      fc.property(terms, fc.integer(), fc.integer(), fc.integer(), (t, s, v, m) => {
        const price = trendPrice(t, { scoreCenti: s, velocityCenti: v, sentimentBp: m });
        expect(price).toBeGreaterThanOrEqual(t.floorTicks);
        expect(price).toBeLessThanOrEqual(t.baseTicks * CAP_MULTIPLE);
        expect(Number.isSafeInteger(price)).toBe(true);
      }),
    );
  });

  it('is deterministic: the same inputs, the same price', () => {
    fc.assert(
      fc.property(terms, score, velocity, sentiment, (t, s, v, m) => {
        const metrics = { scoreCenti: s, velocityCenti: v, sentimentBp: m };
        expect(trendPrice({ ...t }, { ...metrics })).toBe(trendPrice(t, metrics));
      }),
    );
  });

  it('prices the documented examples', () => {
    const t = defaultTerms(10_000); // base 10000 ticks, a point 100 ticks, floor 1000
    // +10 points, steady, neutral: 10000 + 10 × 1 × 1 × 100.
    expect(trendPrice(t, { scoreCenti: 1_000, velocityCenti: 0, sentimentBp: 0 })).toBe(11_000);
    // +10 points at +50 %/h and sentiment 0.5: 10 × 1.5 × 1.5 × 100 = 2250.
    expect(trendPrice(t, { scoreCenti: 1_000, velocityCenti: 5_000, sentimentBp: 5_000 })).toBe(12_250);
    // Wholly negative sentiment: the score moves nothing.
    expect(trendPrice(t, { scoreCenti: 9_000, velocityCenti: 5_000, sentimentBp: -10_000 })).toBe(10_000);
    // Far below the baseline: the floor.
    expect(
      trendPrice(defaultTerms(10_000, 10_000), { scoreCenti: 0, velocityCenti: 10_000, sentimentBp: 10_000 }),
    ).toBe(1_000);
    // Half up: 0.5 tick up, −0.5 tick up (to 0), −1.5 to −1.
    expect(divRoundHalfUp(1n, 2n)).toBe(1n);
    expect(divRoundHalfUp(-1n, 2n)).toBe(0n);
    expect(divRoundHalfUp(-3n, 2n)).toBe(-1n);
    expect(divRoundHalfUp(-4n, 3n)).toBe(-1n);
  });
});

describe('simulatePriceMovement', () => {
  const recorded: fc.Arbitrary<RecordedMetrics[]> = fc
    .array(fc.record({ scoreCenti: score, velocityCenti: velocity, sentimentBp: sentiment }), {
      maxLength: 30,
    })
    .map((list) => list.map((m, i) => ({ ...m, ts: 1_000 * i })));

  it('is reproducible from its seed and stays within the floor and cap', () => {
    fc.assert(
      fc.property(
        terms,
        recorded,
        fc.integer({ min: 1, max: 200 }),
        fc.option(fc.nat()),
        (t, metrics, steps, seed) => {
          const window = { from: 0, to: 30_000, steps, seed: seed ?? undefined };
          const a = simulatePriceMovement('VIRAL/SA_X_001', window, metrics, t);
          const b = simulatePriceMovement('VIRAL/SA_X_001', window, metrics, t);
          expect(b).toEqual(a);
          expect(a.points).toHaveLength(steps + 1);
          for (const p of a.points) {
            expect(p.priceTicks).toBeGreaterThanOrEqual(t.floorTicks);
            expect(p.scoreCenti).toBeGreaterThanOrEqual(0);
            expect(p.scoreCenti).toBeLessThanOrEqual(MAX_SCORE);
          }
        },
      ),
    );
  });

  it('gives another path for another seed, and a flat one without recorded moves', () => {
    const t = defaultTerms(10_000);
    const metrics = Array.from({ length: 20 }, (_, i) => ({
      ts: i * 1_000,
      scoreCenti: (i * 733) % MAX_SCORE,
      velocityCenti: 1_000,
      sentimentBp: 2_000,
    }));
    const window = { from: 0, to: 20_000, steps: 50 };
    const a = simulatePriceMovement('VIRAL/SA_X_001', { ...window, seed: 1 }, metrics, t);
    const b = simulatePriceMovement('VIRAL/SA_X_001', { ...window, seed: 2 }, metrics, t);
    expect(a.points.map((p) => p.priceTicks)).not.toEqual(b.points.map((p) => p.priceTicks));
    const flat = simulatePriceMovement('VIRAL/SA_X_001', window, metrics.slice(0, 1), t);
    expect(new Set(flat.points.map((p) => p.priceTicks)).size).toBe(1);
  });
});
