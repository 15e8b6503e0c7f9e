import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IdIndex } from '../../src/actors/book/idIndex.ts';

/** The id index against a Map, over random adds and deletes of ids that collide often. */
describe('IdIndex', () => {
  it('behaves like a Map from order id to slot', () => {
    const id = fc.oneof(
      fc.integer({ min: 0, max: 3000 }),
      fc.constantFrom(2 ** 32, 2 ** 40 + 7, Number.MAX_SAFE_INTEGER),
    );
    const op = fc.record({ add: fc.boolean(), id });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 3000 }), (ops) => {
        const ids: number[] = [];
        const index = new IdIndex({ orderId: ids });
        const model = new Map<number, number>();
        for (const { add, id: orderId } of ops) {
          if (add) {
            const slot = ids.length;
            ids.push(orderId);
            expect(index.add(orderId, slot)).toBe(!model.has(orderId));
            if (!model.has(orderId)) model.set(orderId, slot);
          } else {
            index.delete(orderId);
            model.delete(orderId);
          }
          expect(index.size).toBe(model.size);
        }
        for (const [orderId, slot] of model) expect(index.get(orderId)).toBe(slot);
        for (const { id: orderId } of ops)
          if (!model.has(orderId)) expect(index.get(orderId)).toBeUndefined();
      }),
      { numRuns: 200 },
    );
  });
});
