import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Coalescer } from '../../src/notifications/coalesce.ts';

/**
 * The channels' batching of database reads and writes (coalesce.ts): concurrent calls go as few
 * batches, each call answered with its own key's value (the reference: calling `f` one by one).
 */
describe('Coalescer', () => {
  it('answers every call with its own value, in batches of at most max, one batch at a time', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.integer({ min: -1000, max: 1000 }), { maxLength: 40 }), {
          minLength: 1,
          maxLength: 6,
        }),
        fc.integer({ min: 1, max: 16 }),
        async (waves, max) => {
          const batches: number[][] = [];
          let running = 0;
          let overlapped = false;
          const coalescer = new Coalescer<number, string>(async (keys) => {
            running++;
            if (running > 1) overlapped = true;
            batches.push([...keys]);
            await new Promise((resolve) => setImmediate(resolve));
            running--;
            return keys.map((k) => `v${k}`);
          }, max);
          const answers: Promise<string>[] = [];
          const keys: number[] = [];
          for (const wave of waves) {
            for (const key of wave) {
              keys.push(key);
              answers.push(coalescer.call(key));
            }
            // The next wave comes after a turn of the event loop: a batch may be running then.
            await new Promise((resolve) => setImmediate(resolve));
          }
          expect(await Promise.all(answers)).toEqual(keys.map((k) => `v${k}`));
          expect(overlapped).toBe(false);
          expect(batches.every((b) => b.length >= 1 && b.length <= max)).toBe(true);
          expect(batches.flat()).toEqual(keys);
        },
      ),
    );
  });

  it('goes in one batch for the calls of one tick', async () => {
    const batches: number[] = [];
    const coalescer = new Coalescer<number, number>((keys) => {
      batches.push(keys.length);
      return Promise.resolve(keys.map((k) => k * 2));
    });
    expect(await Promise.all([1, 2, 3, 4, 5].map((k) => coalescer.call(k)))).toEqual([2, 4, 6, 8, 10]);
    expect(batches).toEqual([5]);
  });

  it('rejects the calls of a failed batch, and the next batch runs', async () => {
    let fail = true;
    const coalescer = new Coalescer<number, number>((keys) => {
      if (fail) {
        fail = false;
        return Promise.reject(new Error('the database is gone'));
      }
      return Promise.resolve(keys.map((k) => k + 1));
    });
    const first = Promise.allSettled([coalescer.call(1), coalescer.call(2)]);
    expect((await first).map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(await coalescer.call(3)).toBe(4);
  });

  it('rejects a batch that answers the wrong number of values', async () => {
    const coalescer = new Coalescer<number, number>(() => Promise.resolve([1]));
    await expect(Promise.all([coalescer.call(1), coalescer.call(2)])).rejects.toThrow(/answered 1 values/);
  });
});
