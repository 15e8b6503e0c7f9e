import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Side } from '../../src/actors/book/types.ts';
import { createMarketMoney } from '../../src/actors/money.ts';
import { bookChecksum } from '../../src/protocol/checksum.ts';
import { BOOK_DEPTHS, type BookDepth } from '../../src/protocol/messages.ts';
import { BookFeed, type LevelChange, type WireLevel } from '../../src/marketdata/bookFeed.ts';

/**
 * The published book: for every depth window a client that applies a snapshot and then each delta
 * holds exactly the best N levels of a reference book, with gapless seq and matching checksums.
 */

const money = createMarketMoney({
  priceDecimals: 2,
  qtyDecimals: 3,
  tickSize: '0.05',
  lotSize: '0.001',
  minQty: '0.001',
  maxQty: '1000',
});

type RefBook = Record<Side, Map<number, number>>;

/** Best `n` (0: all) levels of a reference side as wire strings, best first. */
function refBest(book: RefBook, side: Side, n: number): WireLevel[] {
  const sorted = [...book[side]].sort(([a], [b]) => (side === 'buy' ? b - a : a - b));
  const cut = n === 0 ? sorted : sorted.slice(0, n);
  return cut.map(([price, qty]) => [money.formatPrice(price), money.formatQty(qty)]);
}

function refChecksum(book: RefBook): number {
  return bookChecksum(refBest(book, 'buy', 10), refBest(book, 'sell', 10));
}

/** A subscriber's book as PROTOCOL.md tells a client to keep it: by price string, "0" removes. */
class Client {
  bids = new Map<string, string>();
  asks = new Map<string, string>();
  seq = -1;

  load(snapshot: { seq: number; bids: readonly WireLevel[]; asks: readonly WireLevel[] }): void {
    this.bids = new Map(snapshot.bids.map(([p, q]) => [p, q]));
    this.asks = new Map(snapshot.asks.map(([p, q]) => [p, q]));
    this.seq = snapshot.seq;
  }

  /** Applies a delta; it must be minimal: each "0" removes a held level, each qty changes one. */
  apply(delta: { seq: number; bids: readonly WireLevel[]; asks: readonly WireLevel[] }): void {
    expect(delta.seq).toBe(this.seq + 1);
    this.seq = delta.seq;
    for (const [levels, held, side] of [
      [delta.bids, this.bids, 'buy'],
      [delta.asks, this.asks, 'sell'],
    ] as const) {
      expectBestFirst(levels, side);
      for (const [price, qty] of levels) {
        if (qty === '0') {
          expect(held.has(price), `"0" for ${price}, which the client does not hold`).toBe(true);
          held.delete(price);
        } else {
          expect(qty).toMatch(/^\d+\.\d{3}$/);
          expect(money.parseQty(qty).ok, `qty ${qty} must be positive`).toBe(true);
          expect(held.get(price), `${price} resent with the qty the client holds`).not.toBe(qty);
          held.set(price, qty);
        }
      }
    }
  }

  side(side: Side): WireLevel[] {
    const held = side === 'buy' ? this.bids : this.asks;
    const sorted = [...held].sort(([a], [b]) => Number(a) - Number(b));
    if (side === 'buy') sorted.reverse();
    return sorted;
  }
}

function expectBestFirst(levels: readonly WireLevel[], side: Side): void {
  const prices = levels.map(([p]) => Number(p));
  const sorted = [...prices].sort((a, b) => (side === 'buy' ? b - a : a - b));
  expect(prices).toEqual(sorted);
}

function applyRef(book: RefBook, changes: readonly LevelChange[]): boolean {
  let changed = false;
  for (const { side, price, qty } of changes) {
    const before = book[side].get(price) ?? 0;
    if (qty === 0) book[side].delete(price);
    else book[side].set(price, qty);
    changed ||= before !== qty;
  }
  return changed;
}

/** Whether the batch changed the reference at all (some price ends at another total than it began). */
function netChange(book: RefBook, changes: readonly LevelChange[]): boolean {
  const final = new Map<string, { side: Side; price: number; qty: number }>();
  for (const c of changes) final.set(`${c.side}:${c.price}`, c);
  return [...final.values()].some((c) => (book[c.side].get(c.price) ?? 0) !== c.qty);
}

const PRICES = 130; // more levels than the deepest window (50) on each side
const price = fc.integer({ min: 1, max: PRICES });
const side = fc.constantFrom<Side>('buy', 'sell');
const level = fc.tuple(price, fc.integer({ min: 1, max: 4 }));
/** A side of fewer levels than a window, or of more than the deepest window. */
const sideOf = (minLength: number, maxLength: number) =>
  fc
    .uniqueArray(level, { selector: ([p]) => p, minLength, maxLength })
    .map((levels) => levels.map(([p, q]) => [p, q] as [number, number]));
const initialSide = fc.oneof(sideOf(0, 15), sideOf(40, 100));
const change: fc.Arbitrary<LevelChange> = fc.record({
  side,
  price,
  // Removals half the time, so levels leave and re-enter the windows often.
  qty: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 4 })),
});
const batch = fc.record({
  changes: fc.array(change, { minLength: 0, maxLength: 14 }),
  // A resubscription of one window after the batch: its snapshot must continue the stream.
  resubscribe: fc.option(fc.constantFrom<BookDepth>(...BOOK_DEPTHS), { nil: undefined }),
});

describe('BookFeed against a reference book', () => {
  it('keeps every window exactly the best N levels, seq gapless, checksums of the best 10', () => {
    fc.assert(
      fc.property(initialSide, initialSide, fc.array(batch, { maxLength: 40 }), (bids, asks, batches) => {
        const ref: RefBook = { buy: new Map(bids), sell: new Map(asks) };
        const feed = new BookFeed(money, {
          bids: refBest(ref, 'buy', 0).map(([p, q]) => [ticks(p), lots(q)]),
          asks: refBest(ref, 'sell', 0).map(([p, q]) => [ticks(p), lots(q)]),
        });
        expect(feed.seq).toBe(0);
        const clients = new Map(
          BOOK_DEPTHS.map((depth) => {
            const client = new Client();
            client.load(feed.snapshot(depth));
            return [depth, client] as const;
          }),
        );
        let seq = 0;
        for (const { changes, resubscribe } of batches) {
          const expectChange = netChange(ref, changes);
          applyRef(ref, changes);
          const update = feed.applyBatch(changes);
          if (!expectChange) {
            expect(update).toBeUndefined();
          } else {
            expect(update).toBeDefined();
            seq++;
            expect(update!.seq).toBe(seq);
            expect(update!.checksum).toBe(refChecksum(ref));
            expect(update!.deltas.map((d) => d.depth)).toEqual([...BOOK_DEPTHS]);
            for (const delta of update!.deltas) {
              clients.get(delta.depth)!.apply({ ...delta, seq: update!.seq });
            }
          }
          expect(feed.seq).toBe(seq);
          for (const [depth, client] of clients) {
            expect(client.side('buy')).toEqual(refBest(ref, 'buy', depth));
            expect(client.side('sell')).toEqual(refBest(ref, 'sell', depth));
            // The checksum a client computes from its own book matches the one sent.
            expect(bookChecksum(client.side('buy'), client.side('sell'))).toBe(refChecksum(ref));
          }
          if (resubscribe !== undefined) {
            const snapshot = feed.snapshot(resubscribe);
            expect(snapshot.seq).toBe(seq);
            expect(snapshot.checksum).toBe(refChecksum(ref));
            expect(snapshot.bids).toEqual(refBest(ref, 'buy', resubscribe));
            expect(snapshot.asks).toEqual(refBest(ref, 'sell', resubscribe));
            clients.get(resubscribe)!.load(snapshot);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

function ticks(p: string): number {
  const r = money.parsePrice(p);
  if (!r.ok) throw new Error(r.message);
  return r.value;
}

function lots(q: string): number {
  const r = money.parseQty(q);
  if (!r.ok) throw new Error(r.message);
  return r.value;
}

describe('BookFeed examples', () => {
  const levels = (n: number, from: number, step: number): [number, number][] =>
    Array.from({ length: n }, (_, i) => [from + i * step, 1]);

  it('sends a removed level as "0" and the level entering the top 10 with its full qty', () => {
    // 12 bids 100..89 ticks (5.00 .. 4.45), qty 1 lot each.
    const feed = new BookFeed(money, { bids: levels(12, 100, -1), asks: [] });
    const update = feed.applyBatch([{ side: 'buy', price: 100, qty: 0 }])!;
    const byDepth = new Map(update.deltas.map((d) => [d.depth, d]));
    expect(byDepth.get(10)).toEqual({
      depth: 10,
      bids: [
        ['5.00', '0'],
        ['4.50', '0.001'],
      ],
      asks: [],
    });
    expect(byDepth.get(50)).toEqual({ depth: 50, bids: [['5.00', '0']], asks: [] });
    expect(byDepth.get(0)).toEqual({ depth: 0, bids: [['5.00', '0']], asks: [] });
    expect(update.seq).toBe(1);
  });

  it('pushes the 10th level out with "0" when a better one arrives, and sends empty sides outside a window', () => {
    const feed = new BookFeed(money, { bids: [], asks: levels(10, 200, 1) }, { seq: 41 });
    const better = feed.applyBatch([{ side: 'sell', price: 150, qty: 3 }])!;
    expect(better.seq).toBe(42);
    expect(better.deltas[0]).toEqual({
      depth: 10,
      bids: [],
      asks: [
        ['7.50', '0.003'],
        ['10.45', '0'],
      ],
    });
    // The level pushed out is still in the book and in the deeper windows.
    expect(feed.snapshot(50).asks).toHaveLength(11);
    const deep = feed.applyBatch([{ side: 'sell', price: 900, qty: 2 }])!;
    expect(deep.seq).toBe(43);
    expect(deep.deltas[0]).toEqual({ depth: 10, bids: [], asks: [] });
    expect(deep.deltas[1]).toEqual({ depth: 50, bids: [], asks: [['45.00', '0.002']] });
  });

  it('takes the last of several changes to one price, and ignores a batch that changes nothing net', () => {
    const feed = new BookFeed(money, { bids: [[100, 5]], asks: [] });
    expect(
      feed.applyBatch([
        { side: 'buy', price: 100, qty: 7 },
        { side: 'buy', price: 101, qty: 2 },
        { side: 'buy', price: 101, qty: 0 },
        { side: 'buy', price: 100, qty: 5 },
      ]),
    ).toBeUndefined();
    expect(feed.seq).toBe(0);
    const update = feed.applyBatch([
      { side: 'buy', price: 100, qty: 0 },
      { side: 'buy', price: 100, qty: 9 },
    ])!;
    expect(update.deltas[2]).toEqual({ depth: 0, bids: [['5.00', '0.009']], asks: [] });
  });

  it('seeds from the engine book and checksums the best 10 of each side in any snapshot', () => {
    const bids = levels(30, 100, -1);
    const asks = levels(30, 101, 1);
    const feed = new BookFeed(money, { bids, asks });
    const wire = (l: [number, number][]) =>
      l.map(([p, q]) => [money.formatPrice(p), money.formatQty(q)] as WireLevel);
    const expected = bookChecksum(wire(bids.slice(0, 10)), wire(asks.slice(0, 10)));
    for (const depth of BOOK_DEPTHS) {
      const snapshot = feed.snapshot(depth);
      expect(snapshot.checksum).toBe(expected);
      expect(snapshot.seq).toBe(0);
      expect(snapshot.bids).toHaveLength(depth === 0 ? 30 : Math.min(depth, 30));
    }
    expect(feed.snapshot(10).bids[0]).toEqual(['5.00', '0.001']);
    expect(feed.snapshot(10).asks[0]).toEqual(['5.05', '0.001']);
  });
});
