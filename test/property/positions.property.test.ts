import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applyLeg,
  emptyPosition,
  positionKey,
  type Leg,
  type Position,
} from '../../src/analytics/portfolio/positions.ts';

/*
 * Positions kept incrementally (legs applied page by page to the positions of the page before, as
 * the `portfolio` consumer does through Postgres) against a brute-force recomputation from every
 * leg of the user at once: the same rows; and the average-cost identities that hold whatever the
 * rounding: qty = bought net − sold (while nothing is oversold), realized = proceeds − paid + cost,
 * cost ≤ paid, and cost / qty within one unit of the exact (rational) average cost.
 */

const USERS = ['u1', 'u2', 'u3'];
interface LegSeed {
  readonly user: string;
  readonly side: 'buy' | 'sell';
  readonly base: bigint;
  readonly price: bigint;
  readonly feeBps: number;
}
const legArb = fc.record({
  user: fc.constantFrom(...USERS),
  side: fc.constantFrom<'buy' | 'sell'>('buy', 'sell'),
  base: fc.bigInt({ min: 1n, max: 10n ** 12n }),
  price: fc.bigInt({ min: 1n, max: 10n ** 6n }),
  feeBps: fc.integer({ min: 0, max: 100 }),
});

function legOf(a: LegSeed): Leg {
  const quote = (a.base * a.price) / 1000n;
  const received = a.side === 'buy' ? a.base : quote;
  const fee = (received * BigInt(a.feeBps) + 9_999n) / 10_000n;
  return { userId: a.user, asset: 'BTC', quoteAsset: 'USDC', side: a.side, base: a.base, quote, fee, ts: 0 };
}

describe('positions: incremental vs brute force', () => {
  it('page by page equals all at once, and the average-cost identities hold', () => {
    fc.assert(
      fc.property(
        fc.array(legArb, { maxLength: 120 }),
        fc.array(fc.integer({ min: 1, max: 20 })),
        (raw, cuts) => {
          const legs = raw.map(legOf);
          // Incremental: pages of the given sizes, each reading the stored rows and writing them back.
          const stored = new Map<string, Position>();
          let at = 0;
          let page = 0;
          while (at < legs.length) {
            const size = cuts[page++ % Math.max(1, cuts.length)] ?? 5;
            const working = new Map<string, Position>();
            for (const leg of legs.slice(at, at + size)) {
              const key = positionKey(leg.userId, leg.asset, leg.quoteAsset);
              const before =
                working.get(key) ?? stored.get(key) ?? emptyPosition(leg.userId, leg.asset, leg.quoteAsset);
              working.set(key, applyLeg(before, leg));
            }
            for (const [key, position] of working) stored.set(key, { ...position });
            at += size;
          }
          for (const user of USERS) {
            const mine = legs.filter((l) => l.userId === user);
            const brute = mine.reduce(applyLeg, emptyPosition(user, 'BTC', 'USDC'));
            const kept = stored.get(positionKey(user, 'BTC', 'USDC'));
            if (mine.length === 0) expect(kept).toBeUndefined();
            else expect(kept).toEqual(brute);

            // Identities against sums of the fills alone.
            let paid = 0n;
            let proceeds = 0n;
            let net = 0n;
            let oversold = false;
            let exactQty = 0n;
            // The exact average cost, as a rational cost / qty carried without rounding.
            let exactCostNum = 0n;
            for (const leg of mine) {
              if (leg.side === 'buy') {
                paid += leg.quote;
                net += leg.base - leg.fee;
                exactCostNum += leg.quote;
                exactQty += leg.base - leg.fee;
              } else {
                proceeds += leg.quote - leg.fee;
                if (leg.base > net) oversold = true;
                net -= leg.base;
                if (exactQty > 0n) {
                  const covered = leg.base < exactQty ? leg.base : exactQty;
                  // Keep cost/qty exact by scaling: cost' = cost × (qty − covered) / qty (rational).
                  exactCostNum = (exactCostNum * (exactQty - covered)) / exactQty;
                  exactQty -= covered;
                }
              }
            }
            expect(brute.realized).toBe(proceeds - paid + brute.cost);
            expect(brute.cost <= paid).toBe(true);
            if (!oversold) expect(brute.qty).toBe(net);
            expect(brute.qty).toBe(exactQty);
            // Floor per sell: the kept cost is never more than one unit per sell from the exact one.
            const sells = BigInt(mine.filter((l) => l.side === 'sell').length);
            const drift = brute.cost - exactCostNum;
            expect(drift >= -sells && drift <= sells).toBe(true);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
