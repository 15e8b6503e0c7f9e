import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LevelTable, PriceLadder } from '../../src/actors/book/priceLadder.ts';
import { OrderStore } from '../../src/actors/book/orderStore.ts';
import { TrailGroups } from '../../src/actors/book/trails.ts';
import type { Trail } from '../../src/actors/book/orderStore.ts';

/**
 * The ladder links a new level by walking its list while it holds few levels and through a tree
 * once it holds many (priceLadder.ts, SMALL_LADDER); the book's differential tests keep to a narrow
 * price range, so here the ladder alone grows past the threshold, shrinks below half of it and
 * grows again, against a sorted model.
 */
const opArb = fc.oneof(
  { arbitrary: fc.record({ add: fc.constant(true), price: fc.integer({ min: 1, max: 120 }) }), weight: 3 },
  { arbitrary: fc.record({ add: fc.constant(false), pick: fc.nat() }), weight: 2 },
);

describe('PriceLadder, small (list) and large (tree) alike', () => {
  for (const direction of [1, -1] as const) {
    it(`keeps priority order and totals through growth and shrinkage (direction ${direction})`, () => {
      fc.assert(
        fc.property(fc.array(opArb, { minLength: 1, maxLength: 400 }), (ops) => {
          const store = new OrderStore(10_000);
          const ladder = new PriceLadder(direction, direction === 1, store, new LevelTable());
          const model = new Map<number, number>();
          const live: { slot: number; price: number; qty: number }[] = [];
          let id = 1;
          // The ops, then every order removed (the ladder shrinks to nothing), then the ops again.
          const drain = Array.from({ length: ops.length }, (_, i) => ({ add: false as const, pick: i * 7 }));
          for (const op of [...ops, ...drain, ...ops]) {
            if (op.add) {
              const qty = 1 + (id % 5);
              const slot = store.allocate(id++, 'u', undefined, 0, op.price, 0, qty, qty, 0, 0);
              ladder.append(slot, op.price);
              live.push({ slot, price: op.price, qty });
              model.set(op.price, (model.get(op.price) ?? 0) + qty);
            } else if (live.length > 0) {
              const [gone] = live.splice(op.pick % live.length, 1);
              ladder.unlink(gone!.slot);
              store.release(gone!.slot);
              const left = model.get(gone!.price)! - gone!.qty;
              if (left === 0) model.delete(gone!.price);
              else model.set(gone!.price, left);
            }
            const expected = [...model].sort((a, b) => direction * (a[0] - b[0]));
            expect(ladder.depth(0)).toEqual(expected);
            expect(ladder.front?.price).toBe(expected[0]?.[0]);
          }
        }),
        { numRuns: 300 },
      );
    });
  }
});

describe('TrailGroups', () => {
  it('moves exactly the stops anchored beyond a fill, whatever order they joined in', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.array(
          fc.oneof(
            fc.record({ kind: fc.constant('join' as const), anchor: fc.integer({ min: 1, max: 30 }) }),
            fc.record({ kind: fc.constant('leave' as const), pick: fc.nat() }),
            fc.record({ kind: fc.constant('fill' as const), price: fc.integer({ min: 1, max: 30 }) }),
          ),
          { maxLength: 200 },
        ),
        (buys, ops) => {
          const groups = new TrailGroups(buys);
          const trails = new Map<number, Trail>();
          let slot = 0;
          for (const op of ops) {
            if (op.kind === 'join') {
              const trail: Trail = {
                offset: 1,
                bps: false,
                limitOffset: undefined,
                anchor: op.anchor,
                active: false,
              };
              trails.set(slot, trail);
              groups.join(slot++, trail);
            } else if (op.kind === 'leave') {
              const active = [...trails].filter(([, t]) => t.active);
              if (active.length === 0) continue;
              const [s, t] = active[op.pick % active.length]!;
              groups.leave(s, t);
            } else {
              const beyond = [...trails]
                .filter(([, t]) => t.active && (buys ? t.anchor > op.price : t.anchor < op.price))
                .map(([s]) => s)
                .sort((a, b) => a - b);
              expect(groups.movesAt(op.price)).toBe(beyond.length > 0);
              const out: number[] = [];
              groups.moveBeyond(op.price, out);
              expect(out.sort((a, b) => a - b)).toEqual(beyond);
              for (const s of out) trails.get(s)!.anchor = op.price;
            }
            expect(groups.size).toBe([...trails.values()].filter((t) => t.active).length);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
