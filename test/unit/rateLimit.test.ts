import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { utf8Prefix } from '../../src/integrations/webhookRefusals.ts';
import { Occupancy, RateLimiter, sourceKey, TokenBucket } from '../../src/transport/rateLimit.ts';

/*
 * The pieces of the bounds (issue 12 §3): token buckets never grant more than their burst plus
 * their rate over the time passed, occupancy caps hold and free, per-address keys group IPv6 by
 * /64, and stored bodies never exceed their byte cap.
 */

describe('TokenBucket', () => {
  it('grants at most burst + rate × elapsed, whatever the costs and the timing', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1_000 }),
        fc.integer({ min: 1, max: 100 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 500 }), fc.integer({ min: 1, max: 150 })), {
          maxLength: 200,
        }),
        (rate, burst, steps) => {
          let now = 0;
          const bucket = new TokenBucket(rate, burst, now);
          let granted = 0;
          for (const [dt, cost] of steps) {
            now += dt;
            if (bucket.take(now, cost)) granted += Math.min(cost, burst);
            expect(granted).toBeLessThanOrEqual(burst + (rate * now) / 1000 + 1e-9);
          }
        },
      ),
    );
  });

  it('is full again after burst / rate seconds, and a cost above the burst needs a full bucket', () => {
    const bucket = new TokenBucket(10, 5, 0);
    for (let i = 0; i < 5; i++) expect(bucket.take(0)).toBe(true);
    expect(bucket.take(0)).toBe(false);
    expect(bucket.full(500)).toBe(true);
    expect(bucket.take(500, 50)).toBe(true);
    expect(bucket.take(500)).toBe(false);
  });
});

describe('RateLimiter', () => {
  it('holds at most maxKeys buckets; past them new keys share one', () => {
    let now = 0;
    const limiter = new RateLimiter(1, 1, () => now, 3);
    for (const key of ['a', 'b', 'c']) expect(limiter.take(key)).toBe(true);
    expect(limiter.take('d')).toBe(true); // the overflow bucket's token
    expect(limiter.take('e')).toBe(false); // shares it with d
    expect(limiter.size).toBe(3);
    now = 2_000; // all full again: swept for the new key
    expect(limiter.take('f')).toBe(true);
    expect(limiter.size).toBe(1);
  });
});

describe('Occupancy', () => {
  it('caps in all and per key, and frees on leave', () => {
    const places = new Occupancy(3, 2);
    expect(places.enter('a')).toBe('ok');
    expect(places.enter('a')).toBe('ok');
    expect(places.enter('a')).toBe('per_key');
    expect(places.enter('b')).toBe('ok');
    expect(places.enter('c')).toBe('total');
    places.leave('a');
    expect(places.enter('c')).toBe('ok');
    places.leave('nobody');
    expect(places.total).toBe(3);
  });
});

describe('sourceKey', () => {
  it('keeps IPv4, unmaps IPv4-mapped IPv6 and groups IPv6 by /64', () => {
    expect(sourceKey('127.0.0.1')).toBe('127.0.0.1');
    expect(sourceKey('0000:0000:0000:0000:0000:ffff:7f00:0001')).toBe('127.0.0.1');
    expect(sourceKey('::ffff:c0a8:0102')).toBe('192.168.1.2');
    expect(sourceKey('2001:0db8:0001:0002:0003:0004:0005:0006')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(sourceKey('0000:0000:0000:0000:0000:0000:0000:0001')).toBe('0:0:0:0::/64');
    expect(sourceKey('not:an:address')).toBe('not:an:address');
  });

  it('gives every address of one /64 the same key, and different /64s different keys', () => {
    const group = fc.integer({ min: 0, max: 0xffff });
    const address = fc.array(group, { minLength: 8, maxLength: 8 });
    fc.assert(
      fc.property(address, address, (a, b) => {
        const text = (g: number[]) => g.map((w) => w.toString(16).padStart(4, '0')).join(':');
        const mapped = (g: number[]) => g.slice(0, 6).join() === '0,0,0,0,0,65535';
        fc.pre(!mapped(a) && !mapped(b));
        const sameNet = a.slice(0, 4).join() === b.slice(0, 4).join();
        expect(sourceKey(text(a)) === sourceKey(text(b))).toBe(sameNet);
      }),
    );
  });
});

describe('utf8Prefix', () => {
  it('never exceeds the byte cap and keeps whole characters', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 300 }),
        fc.integer({ min: 0, max: 400 }),
        (text, max) => {
          const bytes = Buffer.from(text.replaceAll('\u0000', ''));
          const kept = utf8Prefix(bytes, max);
          expect(Buffer.byteLength(kept)).toBeLessThanOrEqual(max);
          expect(bytes.toString('utf8').startsWith(kept)).toBe(true);
        },
      ),
    );
  });

  it('cuts invalid bytes (decoded as U+FFFD, 3 bytes each) to the cap too', () => {
    const invalid = Buffer.alloc(100, 0xff);
    expect(Buffer.byteLength(utf8Prefix(invalid, 50))).toBeLessThanOrEqual(50);
  });
});
