import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { netLegs } from '../../src/funding/settlement.ts';

/*
 * Netting a round's deltas into legs (src/funding/settlement.ts): the reference is the deltas
 * themselves. Applying the legs to zero balances gives back exactly each account's delta; every
 * leg moves a positive amount from a giver to a taker; there are at most accounts − 1 legs; and the
 * legs do not depend on the order the deltas come in (a re-signed round moves the same legs).
 */

const accounts = ['@fees', 'alice', 'bob', 'carol', 'dave', 'erin', 'issuer-1'];

/** Deltas summing to zero: random amounts, the last account taking the rest. */
const deltas = fc
  .uniqueArray(fc.constantFrom(...accounts), { minLength: 1, maxLength: accounts.length })
  .chain((names) =>
    fc
      .array(fc.bigInt({ min: -(10n ** 24n), max: 10n ** 24n }), {
        minLength: names.length - 1,
        maxLength: names.length - 1,
      })
      .map((amounts) => {
        const rest = -amounts.reduce((sum, a) => sum + a, 0n);
        return names.map((account, i) => ({ asset: 'LUXA', account, amount: amounts[i] ?? rest }));
      }),
  );

describe('netLegs', () => {
  it('moves exactly the deltas, giver to taker, in at most accounts − 1 legs, whatever the order', () => {
    fc.assert(
      fc.property(deltas, fc.context(), (list, ctx) => {
        const legs = netLegs(list);
        ctx.log(JSON.stringify(legs, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
        const moved = new Map<string, bigint>();
        for (const leg of legs) {
          expect(leg.amount > 0n).toBe(true);
          moved.set(leg.from, (moved.get(leg.from) ?? 0n) - leg.amount);
          moved.set(leg.to, (moved.get(leg.to) ?? 0n) + leg.amount);
        }
        for (const d of list) expect(moved.get(d.account) ?? 0n).toBe(d.amount);
        const nonZero = list.filter((d) => d.amount !== 0n).length;
        expect(legs.length).toBeLessThanOrEqual(Math.max(0, nonZero - 1));
        expect(netLegs([...list].reverse())).toEqual(legs);
      }),
    );
  });

  it('refuses deltas that do not sum to zero', () => {
    expect(() => netLegs([{ asset: 'LUXA', account: 'alice', amount: 1n }])).toThrow(/sum to zero/);
  });
});
