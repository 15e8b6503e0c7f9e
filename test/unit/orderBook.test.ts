import { describe, expect, it } from 'vitest';
import { OrderBook } from '../../src/actors/book/orderBook.ts';
import type { BookEvent, BookSnapshot, PlaceCommand } from '../../src/actors/book/types.ts';

type PlaceInput = Partial<Omit<PlaceCommand, 'kind'>> & Pick<PlaceCommand, 'side' | 'qty'>;

function harness(config = { maxOrders: 1000, maxQty: 1_000_000 }) {
  const book = new OrderBook(config);
  let nextId = 1;
  const place = (input: PlaceInput): BookEvent[] =>
    book.place({
      kind: 'place',
      orderId: input.orderId ?? nextId++,
      userId: 'u1',
      type: 'limit',
      tif: 'GTC',
      postOnly: false,
      stp: 'cancel_taker',
      ...input,
    });
  return { book, place };
}

const ofType = <T extends BookEvent['type']>(events: BookEvent[], type: T) =>
  events.filter((e): e is Extract<BookEvent, { type: T }> => e.type === type);

const rejection = (events: BookEvent[]) => {
  expect(events).toHaveLength(1);
  const [event] = events;
  if (event?.type !== 'rejected') throw new Error(`expected a rejection, got ${JSON.stringify(events)}`);
  return event.code;
};

describe('price-time priority', () => {
  it('fills the best price first, then the earliest order at that price, at the maker price', () => {
    const { place } = harness();
    place({ orderId: 1, userId: 'a', side: 'sell', qty: 5, price: 102 });
    place({ orderId: 2, userId: 'a', side: 'sell', qty: 5, price: 101 });
    place({ orderId: 3, userId: 'b', side: 'sell', qty: 5, price: 101 });
    const events = place({ orderId: 4, userId: 'c', side: 'buy', qty: 12, price: 103 });
    expect(ofType(events, 'fill').map((f) => [f.makerOrderId, f.price, f.qty, f.takerRemaining])).toEqual([
      [2, 101, 5, 7],
      [3, 101, 5, 2],
      [1, 102, 2, 0],
    ]);
    expect(ofType(events, 'level')).toEqual([
      { type: 'level', side: 'sell', price: 101, qty: 0 },
      { type: 'level', side: 'sell', price: 102, qty: 3 },
    ]);
  });

  it('rests the remainder of a GTC limit and reports the new level total', () => {
    const { book, place } = harness();
    place({ userId: 'a', side: 'sell', qty: 2, price: 100 });
    const events = place({ userId: 'b', side: 'buy', qty: 5, price: 100 });
    expect(ofType(events, 'rested')).toEqual([
      { type: 'rested', orderId: 2, side: 'buy', price: 100, remaining: 3 },
    ]);
    expect(book.depth('buy', 0)).toEqual([[100, 3]]);
    expect(book.depth('sell', 0)).toEqual([]);
    expect(book.bestBid()).toBe(100);
    expect(book.bestAsk()).toBeUndefined();
  });

  it('gives top-N depth best first on both sides', () => {
    const { book, place } = harness();
    for (const price of [95, 99, 97, 98, 96]) place({ side: 'buy', qty: 1, price });
    for (const price of [105, 101, 103]) place({ side: 'sell', qty: 2, price });
    expect(book.depth('buy', 3)).toEqual([
      [99, 1],
      [98, 1],
      [97, 1],
    ]);
    expect(book.depth('sell', 0)).toEqual([
      [101, 2],
      [103, 2],
      [105, 2],
    ]);
  });

  it('omits level events for levels whose total ends where it started', () => {
    const { place } = harness();
    place({ userId: 'a', side: 'sell', qty: 5, price: 100 });
    // fills 5 at 100 then rests 5 at 100 on the other side: the ask level goes, a bid level comes
    const events = place({ userId: 'b', side: 'buy', qty: 10, price: 100 });
    expect(ofType(events, 'level')).toEqual([
      { type: 'level', side: 'buy', price: 100, qty: 5 },
      { type: 'level', side: 'sell', price: 100, qty: 0 },
    ]);
  });
});

describe('time in force and order types', () => {
  it('IOC fills what it can and cancels the rest', () => {
    const { place } = harness();
    place({ userId: 'a', side: 'sell', qty: 3, price: 100 });
    const events = place({ userId: 'b', side: 'buy', qty: 5, price: 100, tif: 'IOC' });
    expect(ofType(events, 'fill')[0]?.qty).toBe(3);
    expect(ofType(events, 'canceled')).toEqual([
      { type: 'canceled', orderId: 2, userId: 'b', remaining: 2, reason: 'unfilled' },
    ]);
  });

  it('FOK fills completely or is rejected fok_unfilled with nothing changed', () => {
    const { book, place } = harness();
    place({ userId: 'a', side: 'sell', qty: 3, price: 100 });
    place({ userId: 'a', side: 'sell', qty: 3, price: 101 });
    expect(rejection(place({ userId: 'b', side: 'buy', qty: 7, price: 101, tif: 'FOK' }))).toBe(
      'fok_unfilled',
    );
    expect(rejection(place({ userId: 'b', side: 'buy', qty: 4, price: 100, tif: 'FOK' }))).toBe(
      'fok_unfilled',
    );
    expect(book.depth('sell', 0)).toEqual([
      [100, 3],
      [101, 3],
    ]);
    const events = place({ userId: 'b', side: 'buy', qty: 6, price: 101, tif: 'FOK' });
    expect(ofType(events, 'fill').map((f) => f.qty)).toEqual([3, 3]);
    expect(book.depth('sell', 0)).toEqual([]);
  });

  it('FOK counts past own orders only under cancel_maker', () => {
    const { place } = harness();
    place({ userId: 'b', side: 'sell', qty: 3, price: 100 });
    place({ userId: 'a', side: 'sell', qty: 3, price: 100 });
    expect(rejection(place({ userId: 'b', side: 'buy', qty: 3, price: 100, tif: 'FOK' }))).toBe(
      'fok_unfilled',
    );
    const events = place({ userId: 'b', side: 'buy', qty: 3, price: 100, tif: 'FOK', stp: 'cancel_maker' });
    expect(events.map((e) => e.type)).toEqual(['accepted', 'canceled', 'fill', 'level']);
  });

  it('post-only is rejected would_match when it would take liquidity, and rests otherwise', () => {
    const { place } = harness();
    place({ userId: 'a', side: 'sell', qty: 3, price: 100 });
    expect(rejection(place({ userId: 'b', side: 'buy', qty: 1, price: 100, postOnly: true }))).toBe(
      'would_match',
    );
    const events = place({ userId: 'b', side: 'buy', qty: 1, price: 99, postOnly: true });
    expect(ofType(events, 'rested')).toHaveLength(1);
  });

  it('a market order against an empty book is accepted and canceled', () => {
    const { place } = harness();
    const events = place({ side: 'buy', type: 'market', qty: 4 });
    expect(events).toEqual([
      expect.objectContaining({ type: 'accepted', orderType: 'market' }),
      { type: 'canceled', orderId: 1, userId: 'u1', remaining: 4, reason: 'unfilled' },
    ]);
  });

  it('a market order sweeps a thin book at any price and cancels the rest, never resting', () => {
    const { book, place } = harness();
    place({ userId: 'a', side: 'buy', qty: 2, price: 90 });
    place({ userId: 'a', side: 'buy', qty: 2, price: 50 });
    const events = place({ userId: 'b', side: 'sell', type: 'market', qty: 5, tif: 'GTC' });
    expect(ofType(events, 'fill').map((f) => f.price)).toEqual([90, 50]);
    expect(ofType(events, 'canceled')[0]?.remaining).toBe(1);
    expect(book.depth('sell', 0)).toEqual([]);
  });

  it('a market buy with a quote budget stops when it cannot afford one more lot', () => {
    const { place } = harness();
    place({ userId: 'a', side: 'sell', qty: 2, price: 10 });
    place({ userId: 'a', side: 'sell', qty: 5, price: 30 });
    // 2 lots at 10 cost 20, leaving 75: 2 lots at 30 (60), leaving 15 < 30
    const events = place({ userId: 'b', side: 'buy', type: 'market', qty: 100, quoteBudget: 95 });
    expect(ofType(events, 'fill').map((f) => [f.price, f.qty])).toEqual([
      [10, 2],
      [30, 2],
    ]);
    expect(ofType(events, 'canceled')[0]).toMatchObject({ remaining: 96, reason: 'unfilled' });
  });
});

describe('self-trade prevention', () => {
  function bookWithOwnMaker() {
    const h = harness();
    h.place({ orderId: 1, userId: 'me', side: 'sell', qty: 2, price: 100 });
    h.place({ orderId: 2, userId: 'other', side: 'sell', qty: 2, price: 100 });
    return h;
  }

  it('cancel_taker cancels the taker remainder and keeps the maker', () => {
    const { book, place } = bookWithOwnMaker();
    const events = place({ orderId: 3, userId: 'me', side: 'buy', qty: 3, price: 100, stp: 'cancel_taker' });
    expect(events.slice(1).map((e) => e.type)).toEqual(['canceled']);
    expect(ofType(events, 'canceled')[0]).toMatchObject({ orderId: 3, reason: 'self_trade', remaining: 3 });
    expect(book.depth('sell', 0)).toEqual([[100, 4]]);
  });

  it('cancel_maker cancels the own maker and keeps matching', () => {
    const { book, place } = bookWithOwnMaker();
    const events = place({ orderId: 3, userId: 'me', side: 'buy', qty: 3, price: 100, stp: 'cancel_maker' });
    expect(ofType(events, 'canceled')).toEqual([
      { type: 'canceled', orderId: 1, userId: 'me', remaining: 2, reason: 'self_trade' },
    ]);
    expect(ofType(events, 'fill').map((f) => [f.makerOrderId, f.qty])).toEqual([[2, 2]]);
    expect(book.depth('buy', 0)).toEqual([[100, 1]]);
  });

  it('cancel_both cancels the maker, then the taker', () => {
    const { book, place } = bookWithOwnMaker();
    const events = place({ orderId: 3, userId: 'me', side: 'buy', qty: 3, price: 100, stp: 'cancel_both' });
    expect(ofType(events, 'canceled').map((e) => e.orderId)).toEqual([1, 3]);
    expect(ofType(events, 'fill')).toEqual([]);
    expect(book.depth('sell', 0)).toEqual([[100, 2]]);
  });
});

describe('stop orders', () => {
  it('wait pending until the last trade price crosses the stop, then execute', () => {
    const { book, place } = harness();
    place({ orderId: 1, userId: 'a', side: 'sell', qty: 10, price: 105 });
    const pending = place({
      orderId: 2,
      userId: 'b',
      side: 'buy',
      type: 'stop_market',
      qty: 2,
      stopPrice: 105,
    });
    expect(pending.map((e) => e.type)).toEqual(['accepted', 'pending']);
    expect(book.openOrders().stops.map((o) => o.orderId)).toEqual([2]);
    const events = place({ orderId: 3, userId: 'c', side: 'buy', qty: 1, price: 105 });
    expect(events.map((e) => e.type)).toEqual(['accepted', 'fill', 'triggered', 'fill', 'level']);
    expect(ofType(events, 'fill')[1]).toMatchObject({ takerOrderId: 2, qty: 2, price: 105 });
    expect(book.openOrders().stops).toEqual([]);
  });

  it('trigger at once when the condition already holds at placement', () => {
    const { place } = harness();
    place({ userId: 'a', side: 'sell', qty: 10, price: 100 });
    place({ userId: 'b', side: 'buy', qty: 1, price: 100 });
    const events = place({
      userId: 'c',
      side: 'sell',
      type: 'stop_limit',
      qty: 1,
      stopPrice: 101,
      price: 99,
    });
    expect(events.map((e) => e.type)).toEqual(['accepted', 'triggered', 'rested', 'level']);
  });

  it('cascade: stops triggered by one trade enter in trigger order and can trigger more', () => {
    const { book, place } = harness();
    place({ orderId: 1, userId: 'mm', side: 'sell', qty: 1, price: 100 });
    place({ orderId: 2, userId: 'mm', side: 'sell', qty: 1, price: 101 });
    place({ orderId: 3, userId: 'mm', side: 'sell', qty: 1, price: 102 });
    place({ orderId: 4, userId: 'mm', side: 'sell', qty: 5, price: 103 });
    // 6 and 5 both trigger at 100: the lower stop price first; 7 triggers from 6's fill at 101.
    place({ orderId: 5, userId: 's', side: 'buy', type: 'stop_market', qty: 1, stopPrice: 100 });
    place({ orderId: 6, userId: 's', side: 'buy', type: 'stop_market', qty: 1, stopPrice: 99 });
    place({ orderId: 7, userId: 's', side: 'buy', type: 'stop_limit', qty: 1, stopPrice: 101, price: 103 });
    const events = place({ orderId: 8, userId: 't', side: 'buy', qty: 1, price: 100 });
    expect(
      events.flatMap((e): [string, number][] =>
        e.type === 'triggered' ? [[e.type, e.orderId]] : e.type === 'fill' ? [[e.type, 0]] : [],
      ),
    ).toEqual([
      ['fill', 0],
      ['triggered', 6],
      ['triggered', 5],
      ['fill', 0],
      ['triggered', 7],
      ['fill', 0],
      ['fill', 0],
    ]);
    expect(ofType(events, 'fill').map((f) => [f.takerOrderId, f.price])).toEqual([
      [8, 100],
      [6, 101],
      [5, 102],
      [7, 103],
    ]);
    expect(book.lastPrice).toBe(103);
    expect(book.depth('sell', 0)).toEqual([[103, 4]]);
  });

  it('a triggered post-only stop-limit that would take is canceled would_match', () => {
    const { place } = harness();
    place({ userId: 'a', side: 'sell', qty: 10, price: 100 });
    place({ userId: 'b', side: 'buy', qty: 1, price: 100 });
    const events = place({
      userId: 'c',
      side: 'buy',
      type: 'stop_limit',
      qty: 1,
      stopPrice: 100,
      price: 100,
      postOnly: true,
    });
    expect(ofType(events, 'canceled')[0]).toMatchObject({ reason: 'would_match', remaining: 1 });
  });
});

describe('cancel and amend', () => {
  it('cancels by order id and by client order id, only for the owner', () => {
    const { book, place } = harness();
    place({ orderId: 1, userId: 'a', side: 'buy', qty: 1, price: 99, clientOrderId: 'x-1' });
    place({ orderId: 2, userId: 'a', side: 'buy', qty: 2, price: 99 });
    expect(rejection(book.cancel({ kind: 'cancel', userId: 'b', orderId: 1 }))).toBe('not_found');
    expect(rejection(book.cancel({ kind: 'cancel', userId: 'a', orderId: 99 }))).toBe('not_found');
    expect(rejection(book.cancel({ kind: 'cancel', userId: 'b', clientOrderId: 'x-1' }))).toBe('not_found');
    expect(rejection(book.cancel({ kind: 'cancel', userId: 'a' }))).toBe('bad_request');
    expect(book.cancel({ kind: 'cancel', userId: 'a', clientOrderId: 'x-1' })).toEqual([
      { type: 'canceled', orderId: 1, userId: 'a', remaining: 1, reason: 'user' },
      { type: 'level', side: 'buy', price: 99, qty: 2 },
    ]);
    expect(book.cancel({ kind: 'cancel', userId: 'a', orderId: 2 }).at(-1)).toEqual({
      type: 'level',
      side: 'buy',
      price: 99,
      qty: 0,
    });
    expect(book.size).toBe(0);
  });

  it('cancel_all cancels every open order of the user, resting and stops, by ascending id', () => {
    const { book, place } = harness();
    place({ orderId: 5, userId: 'a', side: 'buy', qty: 1, price: 99 });
    place({ orderId: 3, userId: 'a', side: 'sell', type: 'stop_market', qty: 1, stopPrice: 90 });
    place({ orderId: 4, userId: 'b', side: 'buy', qty: 1, price: 98 });
    place({ orderId: 1, userId: 'a', side: 'sell', qty: 1, price: 101 });
    const events = book.cancelAll('a');
    expect(ofType(events, 'canceled').map((e) => e.orderId)).toEqual([1, 3, 5]);
    expect(book.openOrders().resting.map((o) => o.orderId)).toEqual([4]);
    expect(book.cancelAll('nobody')).toEqual([]);
  });

  it('a quantity decrease keeps time priority', () => {
    const { book, place } = harness();
    place({ orderId: 1, userId: 'a', side: 'sell', qty: 5, price: 100 });
    place({ orderId: 2, userId: 'b', side: 'sell', qty: 5, price: 100 });
    const amended = book.amend({ kind: 'amend', userId: 'a', orderId: 1, qty: 3 });
    expect(amended).toEqual([
      { type: 'amended', orderId: 1, price: 100, qty: 3, remaining: 3, priorityKept: true },
      { type: 'level', side: 'sell', price: 100, qty: 8 },
    ]);
    const fills = ofType(place({ userId: 'c', side: 'buy', qty: 1, price: 100 }), 'fill');
    expect(fills[0]?.makerOrderId).toBe(1);
  });

  it('a quantity increase or price change loses time priority', () => {
    const { book, place } = harness();
    place({ orderId: 1, userId: 'a', side: 'sell', qty: 5, price: 100 });
    place({ orderId: 2, userId: 'b', side: 'sell', qty: 5, price: 100 });
    expect(book.amend({ kind: 'amend', userId: 'a', orderId: 1, qty: 6 })[0]).toMatchObject({
      priorityKept: false,
    });
    expect(ofType(place({ userId: 'c', side: 'buy', qty: 1, price: 100 }), 'fill')[0]?.makerOrderId).toBe(2);
    book.amend({ kind: 'amend', userId: 'b', orderId: 2, price: 101 });
    book.amend({ kind: 'amend', userId: 'b', orderId: 2, price: 100 });
    expect(book.openOrders().resting.map((o) => o.orderId)).toEqual([1, 2]);
  });

  it('an amend that crosses trades first, as a new aggressive order', () => {
    const { book, place } = harness();
    place({ orderId: 1, userId: 'a', side: 'sell', qty: 2, price: 101 });
    place({ orderId: 2, userId: 'b', side: 'buy', qty: 5, price: 99 });
    const events = book.amend({ kind: 'amend', userId: 'b', orderId: 2, price: 101 });
    expect(events.map((e) => e.type)).toEqual(['amended', 'fill', 'rested', 'level', 'level', 'level']);
    expect(book.depth('buy', 0)).toEqual([[101, 3]]);
  });

  it('amend rejections change nothing', () => {
    const { book, place } = harness();
    place({ orderId: 1, userId: 'a', side: 'sell', qty: 5, price: 100 });
    place({ orderId: 2, userId: 'b', side: 'buy', qty: 2, price: 100 });
    place({ orderId: 3, userId: 'b', side: 'buy', qty: 2, price: 98, postOnly: true });
    place({ orderId: 4, userId: 'b', side: 'buy', type: 'stop_market', qty: 2, stopPrice: 120 });
    const before = book.snapshot();
    expect(rejection(book.amend({ kind: 'amend', userId: 'a', orderId: 1 }))).toBe('bad_request');
    expect(rejection(book.amend({ kind: 'amend', userId: 'a', orderId: 1, qty: 0 }))).toBe('bad_request');
    expect(rejection(book.amend({ kind: 'amend', userId: 'a', orderId: 1, qty: 2 }))).toBe('bad_request');
    expect(rejection(book.amend({ kind: 'amend', userId: 'b', orderId: 1, qty: 4 }))).toBe('not_found');
    expect(rejection(book.amend({ kind: 'amend', userId: 'b', orderId: 4, qty: 1 }))).toBe('bad_request');
    expect(rejection(book.amend({ kind: 'amend', userId: 'b', orderId: 3, price: 100 }))).toBe('would_match');
    expect(book.snapshot()).toEqual(before);
  });
});

describe('placement rejections', () => {
  it.each<[string, PlaceInput]>([
    ['zero qty', { side: 'buy', qty: 0, price: 1 }],
    ['fractional qty', { side: 'buy', qty: 1.5, price: 1 }],
    ['qty above maxQty', { side: 'buy', qty: 1_000_001, price: 1 }],
    ['limit without price', { side: 'buy', qty: 1 }],
    ['market with price', { side: 'buy', qty: 1, type: 'market', price: 5 }],
    ['stop without stopPrice', { side: 'buy', qty: 1, type: 'stop_market' }],
    ['limit with stopPrice', { side: 'buy', qty: 1, price: 1, stopPrice: 2 }],
    ['unsafe price', { side: 'buy', qty: 1, price: 2 ** 53 }],
    ['post-only market', { side: 'buy', qty: 1, type: 'market', postOnly: true }],
    ['post-only IOC', { side: 'buy', qty: 1, price: 1, tif: 'IOC', postOnly: true }],
    ['budget on a sell', { side: 'sell', qty: 1, type: 'market', quoteBudget: 10 }],
    ['budget on a limit', { side: 'buy', qty: 1, price: 1, quoteBudget: 10 }],
  ])('%s is bad_request', (_name, input) => {
    const { book, place } = harness();
    expect(rejection(place(input))).toBe('bad_request');
    expect(book.size).toBe(0);
  });

  it('a duplicate clientOrderId among the user’s open orders is rejected; reusable once closed', () => {
    const { book, place } = harness();
    place({ orderId: 1, userId: 'a', side: 'buy', qty: 1, price: 99, clientOrderId: 'c1' });
    expect(rejection(place({ userId: 'a', side: 'buy', qty: 1, price: 98, clientOrderId: 'c1' }))).toBe(
      'duplicate_client_order_id',
    );
    expect(
      ofType(place({ userId: 'b', side: 'buy', qty: 1, price: 98, clientOrderId: 'c1' }), 'rested'),
    ).toHaveLength(1);
    book.cancel({ kind: 'cancel', userId: 'a', orderId: 1 });
    expect(
      ofType(place({ userId: 'a', side: 'buy', qty: 1, price: 98, clientOrderId: 'c1' }), 'rested'),
    ).toHaveLength(1);
  });

  it('a full book answers overloaded', () => {
    const { place } = harness({ maxOrders: 2, maxQty: 10 });
    place({ side: 'buy', qty: 1, price: 1 });
    place({ side: 'buy', qty: 1, price: 2 });
    expect(rejection(place({ side: 'buy', qty: 1, price: 3 }))).toBe('overloaded');
  });

  it('follows the protocol precedence: bad_request, duplicate, overloaded, would_match', () => {
    const { place } = harness({ maxOrders: 2, maxQty: 10 });
    place({ userId: 'a', side: 'sell', qty: 1, price: 5, clientOrderId: 'k' });
    place({ userId: 'a', side: 'sell', qty: 1, price: 6 });
    const base = { userId: 'a', side: 'buy', qty: 1, price: 5, postOnly: true, clientOrderId: 'k' } as const;
    expect(rejection(place({ ...base, qty: 11 }))).toBe('bad_request');
    expect(rejection(place(base))).toBe('duplicate_client_order_id');
    expect(rejection(place({ ...base, clientOrderId: 'z' }))).toBe('overloaded');
  });

  it('refuses a config whose level totals could leave the safe integer range', () => {
    expect(() => new OrderBook({ maxOrders: 2 ** 30, maxQty: 2 ** 30 })).toThrow(/safe integer/);
  });
});

describe('snapshot and restore', () => {
  it('a restored book is identical and gives identical events', () => {
    const { book, place } = harness();
    place({ userId: 'a', side: 'sell', qty: 5, price: 101, clientOrderId: 'q' });
    place({ userId: 'b', side: 'sell', qty: 5, price: 101 });
    place({ userId: 'b', side: 'buy', qty: 3, price: 99 });
    place({ userId: 'c', side: 'buy', qty: 1, price: 101 });
    place({ userId: 'c', side: 'sell', type: 'stop_limit', qty: 2, stopPrice: 99, price: 98 });
    const snapshot = JSON.parse(JSON.stringify(book.snapshot())) as ReturnType<typeof book.snapshot>;
    const restored = OrderBook.restore(snapshot);
    expect(restored.snapshot()).toEqual(book.snapshot());
    const next = { kind: 'place', orderId: 50, userId: 'd', side: 'sell', type: 'market', qty: 4 } as const;
    const command = { ...next, tif: 'GTC', postOnly: false, stp: 'cancel_taker' } as const;
    expect(restored.place(command)).toEqual(book.place(command));
    expect(restored.cancel({ kind: 'cancel', userId: 'a', clientOrderId: 'q' })).toEqual(
      book.cancel({ kind: 'cancel', userId: 'a', clientOrderId: 'q' }),
    );
    expect(restored.snapshot()).toEqual(book.snapshot());
  });
});

describe('issue 14: budgeted stop_market and FOK market buys', () => {
  const config = { maxOrders: 1000, maxQty: 1_000 };

  it('issue 14: a stop_market buy keeps its budget while pending (snapshot included) and spends at most it when triggered', () => {
    const { book, place } = harness(config);
    place({ userId: 'a', side: 'sell', qty: 1, price: 10 });
    place({ userId: 'b', side: 'buy', qty: 1, price: 10 });
    const pending = place({
      userId: 'b',
      side: 'buy',
      type: 'stop_market',
      qty: 1_000,
      stopPrice: 11,
      quoteBudget: 50,
    });
    expect(ofType(pending, 'accepted')[0]?.quoteBudget).toBe(50);
    expect(book.openOrders().stops).toMatchObject([{ orderId: 3, quoteBudget: 50 }]);
    const restored = OrderBook.restore(JSON.parse(JSON.stringify(book.snapshot())) as BookSnapshot);
    for (const b of [book, restored]) {
      b.place({
        kind: 'place',
        orderId: 4,
        userId: 'a',
        side: 'sell',
        type: 'limit',
        qty: 10,
        price: 12,
        tif: 'GTC',
        postOnly: false,
        stp: 'cancel_taker',
      });
      b.place({
        kind: 'place',
        orderId: 5,
        userId: 'a',
        side: 'sell',
        type: 'limit',
        qty: 1,
        price: 11,
        tif: 'GTC',
        postOnly: false,
        stp: 'cancel_taker',
      });
      const events = b.place({
        kind: 'place',
        orderId: 6,
        userId: 'c',
        side: 'buy',
        type: 'limit',
        qty: 1,
        price: 11,
        tif: 'GTC',
        postOnly: false,
        stp: 'cancel_taker',
      });
      // The trade at 11 triggers the stop: 50 buys 4 lots at 12 (48), the rest is canceled unfilled.
      expect(ofType(events, 'fill').map((f) => [f.takerOrderId, f.price, f.qty])).toEqual([
        [6, 11, 1],
        [3, 12, 4],
      ]);
      expect(ofType(events, 'canceled')).toEqual([
        { type: 'canceled', orderId: 3, userId: 'b', remaining: 996, reason: 'unfilled' },
      ]);
    }
  });

  it('issue 14: a budget-only FOK market buy fills when the whole budget can be spent up to lot rounding', () => {
    const { place } = harness(config);
    place({ userId: 'a', side: 'sell', qty: 2, price: 10 });
    place({ userId: 'a', side: 'sell', qty: 5, price: 11 });
    // 45 buys 2 at 10 and 2 at 11; 3 is left, less than one lot at 11.
    const events = place({
      userId: 'b',
      side: 'buy',
      type: 'market',
      tif: 'FOK',
      qty: 1_000,
      quoteBudget: 45,
    });
    expect(ofType(events, 'fill').map((f) => [f.price, f.qty])).toEqual([
      [10, 2],
      [11, 2],
    ]);
    expect(ofType(events, 'canceled')[0]).toMatchObject({ reason: 'unfilled', remaining: 996 });
  });

  it('issue 14: a budget-only FOK market buy whose budget the book cannot absorb answers fok_unfilled', () => {
    const { book, place } = harness(config);
    place({ userId: 'a', side: 'sell', qty: 2, price: 10 });
    expect(
      rejection(place({ userId: 'b', side: 'buy', type: 'market', tif: 'FOK', qty: 1_000, quoteBudget: 40 })),
    ).toBe('fok_unfilled');
    expect(book.depth('sell', 0)).toEqual([[10, 2]]);
  });

  it('issue 14: a budget-only FOK market buy that empties the side fills when the rest buys no lot at the last price', () => {
    const { book, place } = harness(config);
    place({ userId: 'a', side: 'sell', qty: 2, price: 10 });
    // 29 buys both lots (20); 9 is less than a lot at 10, the last (and best remaining) price.
    const events = place({
      userId: 'b',
      side: 'buy',
      type: 'market',
      tif: 'FOK',
      qty: 1_000,
      quoteBudget: 29,
    });
    expect(ofType(events, 'fill').map((f) => [f.price, f.qty])).toEqual([[10, 2]]);
    expect(book.depth('sell', 0)).toEqual([]);
  });

  it('issue 14: a FOK market buy with qty and budget fills that qty within the budget or not at all', () => {
    const { place } = harness(config);
    place({ userId: 'a', side: 'sell', qty: 2, price: 10 });
    place({ userId: 'a', side: 'sell', qty: 5, price: 11 });
    const short = place({ userId: 'b', side: 'buy', type: 'market', tif: 'FOK', qty: 4, quoteBudget: 41 });
    expect(rejection(short)).toBe('fok_unfilled');
    const events = place({ userId: 'b', side: 'buy', type: 'market', tif: 'FOK', qty: 4, quoteBudget: 42 });
    expect(ofType(events, 'fill').map((f) => [f.price, f.qty, f.takerRemaining])).toEqual([
      [10, 2, 2],
      [11, 2, 0],
    ]);
    expect(ofType(events, 'canceled')).toEqual([]);
  });

  it('issue 14: a budget goes with market and stop_market buys only', () => {
    const { place } = harness(config);
    expect(
      rejection(place({ side: 'sell', qty: 1, type: 'stop_market', stopPrice: 5, quoteBudget: 10 })),
    ).toBe('bad_request');
    expect(
      rejection(place({ side: 'buy', qty: 1, type: 'stop_limit', price: 5, stopPrice: 5, quoteBudget: 10 })),
    ).toBe('bad_request');
  });
});

describe('issue 14: STP decrement', () => {
  it('issue 14: decrement with a smaller taker: the maker shrinks in place, the taker is canceled, nothing trades', () => {
    const { book, place } = harness();
    place({ orderId: 1, userId: 'a', side: 'sell', qty: 5, price: 100 });
    place({ orderId: 2, userId: 'b', side: 'sell', qty: 5, price: 100 });
    const events = place({ orderId: 3, userId: 'a', side: 'buy', qty: 3, price: 100, stp: 'decrement' });
    expect(events.filter((e) => e.type !== 'accepted')).toEqual([
      { type: 'decremented', orderId: 1, userId: 'a', qty: 3, remaining: 2 },
      { type: 'canceled', orderId: 3, userId: 'a', remaining: 3, reason: 'self_trade' },
      { type: 'level', side: 'sell', price: 100, qty: 7 },
    ]);
    expect(book.lastPrice).toBeNull();
    // Priority kept: the reduced maker is still first on its level.
    expect(book.openOrders().resting.map((o) => [o.orderId, o.qty, o.remaining])).toEqual([
      [1, 2, 2],
      [2, 5, 5],
    ]);
  });

  it('issue 14: decrement with a larger taker: the maker is canceled, the taker shrinks and keeps matching, then rests', () => {
    const { book, place } = harness();
    place({ orderId: 1, userId: 'a', side: 'sell', qty: 2, price: 100 });
    place({ orderId: 2, userId: 'b', side: 'sell', qty: 3, price: 100 });
    const events = place({ orderId: 3, userId: 'a', side: 'buy', qty: 10, price: 100, stp: 'decrement' });
    expect(events.filter((e) => e.type !== 'accepted' && e.type !== 'level')).toEqual([
      { type: 'canceled', orderId: 1, userId: 'a', remaining: 2, reason: 'self_trade' },
      { type: 'decremented', orderId: 3, userId: 'a', qty: 2, remaining: 8 },
      {
        type: 'fill',
        takerOrderId: 3,
        takerUserId: 'a',
        makerOrderId: 2,
        makerUserId: 'b',
        takerSide: 'buy',
        price: 100,
        qty: 3,
        takerRemaining: 5,
        makerRemaining: 0,
      },
      { type: 'rested', orderId: 3, side: 'buy', price: 100, remaining: 5 },
    ]);
    expect(book.openOrders().resting).toMatchObject([{ orderId: 3, qty: 8, remaining: 5 }]);
  });

  it('issue 14: decrement with equal quantities cancels both, maker first', () => {
    const { book, place } = harness();
    place({ orderId: 1, userId: 'a', side: 'buy', qty: 4, price: 100 });
    const events = place({ orderId: 2, userId: 'a', side: 'sell', type: 'market', qty: 4, stp: 'decrement' });
    expect(ofType(events, 'canceled').map((e) => [e.orderId, e.remaining, e.reason])).toEqual([
      [1, 4, 'self_trade'],
      [2, 4, 'self_trade'],
    ]);
    expect(ofType(events, 'fill')).toEqual([]);
    expect(book.size).toBe(0);
  });

  it('issue 14: a FOK under decrement that would meet its own order first answers fok_unfilled', () => {
    const { place } = harness();
    place({ orderId: 1, userId: 'a', side: 'sell', qty: 1, price: 100 });
    place({ orderId: 2, userId: 'b', side: 'sell', qty: 10, price: 100 });
    expect(
      rejection(place({ userId: 'a', side: 'buy', qty: 5, price: 100, tif: 'FOK', stp: 'decrement' })),
    ).toBe('fok_unfilled');
  });
});

describe('issue 14: GTD', () => {
  it('issue 14: a GTD order rests like GTC until an expire command at or after its expireAt cancels it (reason expired)', () => {
    const { book, place } = harness();
    place({ orderId: 1, userId: 'a', side: 'buy', qty: 5, price: 100, tif: 'GTD', expireAt: 2_000 });
    place({ orderId: 2, userId: 'a', side: 'buy', qty: 5, price: 99, tif: 'GTD', expireAt: 1_500 });
    place({
      orderId: 3,
      userId: 'b',
      side: 'sell',
      type: 'stop_market',
      qty: 1,
      stopPrice: 90,
      tif: 'GTD',
      expireAt: 1_500,
    });
    place({ orderId: 4, userId: 'b', side: 'buy', qty: 1, price: 98 });
    expect(book.nextExpiry()).toBe(1_500);
    expect(book.execute({ kind: 'expire', now: 1_499 })).toEqual([]);
    expect(book.execute({ kind: 'expire', now: 1_500 })).toEqual([
      { type: 'canceled', orderId: 2, userId: 'a', remaining: 5, reason: 'expired' },
      { type: 'canceled', orderId: 3, userId: 'b', remaining: 1, reason: 'expired' },
      { type: 'level', side: 'buy', price: 99, qty: 0 },
    ]);
    expect(book.nextExpiry()).toBe(2_000);
    // Filled or canceled orders are not expired again; the restored book knows the expiries too.
    const restored = OrderBook.restore(JSON.parse(JSON.stringify(book.snapshot())) as BookSnapshot);
    expect(restored.openOrders().resting[0]).toMatchObject({ orderId: 1, tif: 'GTD', expireAt: 2_000 });
    for (const b of [book, restored]) {
      expect(ofType(b.execute({ kind: 'expire', now: 9_999 }), 'canceled').map((e) => e.orderId)).toEqual([
        1,
      ]);
      expect(b.nextExpiry()).toBeUndefined();
      expect(b.size).toBe(1);
    }
  });

  it('issue 14: GTD needs expireAt and expireAt needs GTD; a bad expire time is bad_request', () => {
    const { book, place } = harness();
    expect(rejection(place({ side: 'buy', qty: 1, price: 1, tif: 'GTD' }))).toBe('bad_request');
    expect(rejection(place({ side: 'buy', qty: 1, price: 1, expireAt: 5 }))).toBe('bad_request');
    expect(rejection(place({ side: 'buy', qty: 1, price: 1, tif: 'GTD', expireAt: 1.5 }))).toBe(
      'bad_request',
    );
    expect(rejection(book.execute({ kind: 'expire', now: -1 }))).toBe('bad_request');
    // Post-only is allowed with GTD.
    expect(
      ofType(place({ side: 'buy', qty: 1, price: 1, tif: 'GTD', expireAt: 5, postOnly: true }), 'rested'),
    ).toHaveLength(1);
  });
});

describe('issue 14: iceberg (displayQty)', () => {
  it('issue 14: a resting iceberg shows only its slice on its level; its own events report its whole remaining', () => {
    const { book, place } = harness();
    const events = place({ orderId: 1, userId: 'a', side: 'sell', qty: 10, price: 100, displayQty: 3 });
    expect(events.filter((e) => e.type !== 'accepted')).toEqual([
      { type: 'rested', orderId: 1, side: 'sell', price: 100, remaining: 10 },
      { type: 'level', side: 'sell', price: 100, qty: 3 },
    ]);
    expect(book.depth('sell', 0)).toEqual([[100, 3]]);
    expect(book.openOrders().resting).toMatchObject([
      { orderId: 1, remaining: 10, displayQty: 3, shownQty: 3 },
    ]);
  });

  it('issue 14: a used-up slice refills at the back of its level, within the same match', () => {
    const { book, place } = harness();
    place({ orderId: 1, userId: 'a', side: 'sell', qty: 7, price: 100, displayQty: 3 });
    place({ orderId: 2, userId: 'b', side: 'sell', qty: 2, price: 100 });
    const events = place({ orderId: 3, userId: 'c', side: 'buy', qty: 6, price: 100 });
    expect(ofType(events, 'fill').map((f) => [f.makerOrderId, f.qty, f.makerRemaining])).toEqual([
      [1, 3, 4],
      [2, 2, 0],
      [1, 1, 3],
    ]);
    // 7 - 3 - 1 = 3 left: a slice of 2 shown (3 - 1 taken from the second one), 1 hidden.
    expect(ofType(events, 'level')).toEqual([{ type: 'level', side: 'sell', price: 100, qty: 2 }]);
    expect(book.openOrders().resting).toMatchObject([{ orderId: 1, remaining: 3, shownQty: 2 }]);
    // Behind an order that arrived after it: the refill lost time priority.
    place({ orderId: 4, userId: 'b', side: 'sell', qty: 1, price: 100 });
    place({ orderId: 5, userId: 'c', side: 'buy', qty: 2, price: 100 });
    const next = place({ orderId: 6, userId: 'c', side: 'buy', qty: 2, price: 100 });
    expect(ofType(next, 'fill').map((f) => [f.makerOrderId, f.qty])).toEqual([
      [4, 1],
      [1, 1],
    ]);
  });

  it('issue 14: FOK counts hidden lots; cancel and amend report and keep them; snapshots restore the slice', () => {
    const { book, place } = harness();
    place({ orderId: 1, userId: 'a', side: 'sell', qty: 9, price: 100, displayQty: 2 });
    expect(rejection(place({ orderId: 2, userId: 'b', side: 'buy', qty: 10, price: 100, tif: 'FOK' }))).toBe(
      'fok_unfilled',
    );
    const fok = place({ orderId: 3, userId: 'b', side: 'buy', qty: 5, price: 100, tif: 'FOK' });
    expect(ofType(fok, 'fill').map((f) => f.qty)).toEqual([2, 2, 1]);
    expect(book.depth('sell', 0)).toEqual([[100, 1]]);
    // Amend keeping priority gives up hidden lots first: 4 left, slice 1 of 2 shown stays.
    const amended = book.amend({ kind: 'amend', userId: 'a', orderId: 1, qty: 7 });
    expect(ofType(amended, 'amended')).toMatchObject([{ qty: 7, remaining: 2, priorityKept: true }]);
    expect(book.openOrders().resting).toMatchObject([{ orderId: 1, remaining: 2, shownQty: 1 }]);
    const snapshot = JSON.parse(JSON.stringify(book.snapshot())) as BookSnapshot;
    const restored = OrderBook.restore(snapshot);
    expect(restored.snapshot()).toEqual(snapshot);
    expect(restored.depth('sell', 0)).toEqual([[100, 1]]);
    const canceled = restored.cancel({ kind: 'cancel', userId: 'a', orderId: 1 });
    expect(ofType(canceled, 'canceled')).toMatchObject([{ orderId: 1, remaining: 2 }]);
  });

  it('issue 14: displayQty only on GTC/GTD limit and stop_limit orders, 1..qty lots, at most 1000 slices', () => {
    const { place } = harness();
    expect(rejection(place({ side: 'buy', qty: 5, price: 1, displayQty: 0 }))).toBe('bad_request');
    expect(rejection(place({ side: 'buy', qty: 5, price: 1, displayQty: 6 }))).toBe('bad_request');
    expect(rejection(place({ side: 'buy', qty: 5, price: 1, displayQty: 2, tif: 'IOC' }))).toBe(
      'bad_request',
    );
    expect(rejection(place({ side: 'buy', qty: 5, type: 'market', tif: 'IOC', displayQty: 2 }))).toBe(
      'bad_request',
    );
    expect(rejection(place({ side: 'buy', qty: 1001, price: 1, displayQty: 1 }))).toBe('bad_request');
    expect(ofType(place({ side: 'buy', qty: 1000, price: 1, displayQty: 1 }), 'rested')).toHaveLength(1);
  });
});

describe('issue 14: trailing stops', () => {
  const trade = (place: ReturnType<typeof harness>['place'], price: number) => {
    place({ userId: 'mm', side: 'sell', qty: 1, price });
    place({ userId: 'tk', side: 'buy', qty: 1, price });
  };

  it('issue 14: a trailing sell stop follows the best trade price up, not down, and triggers on a fall by its offset', () => {
    const { book, place } = harness();
    trade(place, 100);
    const placed = place({
      orderId: 50,
      userId: 'a',
      side: 'sell',
      type: 'trailing_stop',
      qty: 2,
      trailingOffset: 5,
    });
    expect(placed).toContainEqual({ type: 'pending', orderId: 50, side: 'sell', stopPrice: 95 });
    place({ userId: 'mm', side: 'sell', qty: 1, price: 104 });
    const up = place({ userId: 'tk', side: 'buy', qty: 1, price: 104 });
    expect(up).toContainEqual({ type: 'trailed', orderId: 50, stopPrice: 99, price: undefined });
    // A fall that is less than the offset does not move it back, nor trigger it.
    trade(place, 100);
    expect(book.openOrders().stops).toMatchObject([{ orderId: 50, stopPrice: 99, trailAnchor: 104 }]);
    place({ userId: 'mm', side: 'buy', qty: 5, price: 99 });
    const down = place({ userId: 'tk', side: 'sell', qty: 1, price: 99 });
    expect(down).toContainEqual({ type: 'triggered', orderId: 50, stopPrice: 99, lastPrice: 99 });
    expect(ofType(down, 'fill').filter((f) => f.takerOrderId === 50)).toMatchObject([{ qty: 2, price: 99 }]);
  });

  it('issue 14: a trailing buy stop in bps with a limit offset: stop and limit follow the lowest trade; it needs a last price', () => {
    const { book, place } = harness();
    expect(rejection(place({ side: 'buy', type: 'trailing_stop', qty: 1, trailingBps: 100 }))).toBe(
      'bad_request',
    );
    trade(place, 1000);
    // 100 bps of 1000 = 10 ticks: stop 1010, limit 1012.
    const placed = place({
      orderId: 60,
      userId: 'b',
      side: 'buy',
      type: 'trailing_stop',
      qty: 1,
      trailingBps: 100,
      limitOffset: 2,
    });
    expect(placed[0]).toMatchObject({
      type: 'accepted',
      orderType: 'trailing_stop',
      stopPrice: 1010,
      price: 1012,
    });
    trade(place, 900);
    expect(book.openOrders().stops).toMatchObject([
      { orderId: 60, stopPrice: 909, price: 911, trailAnchor: 900 },
    ]);
    const restored = OrderBook.restore(JSON.parse(JSON.stringify(book.snapshot())) as BookSnapshot);
    expect(restored.snapshot()).toEqual(book.snapshot());
    for (const b of [book, restored]) {
      b.place({
        kind: 'place',
        orderId: 70,
        userId: 'mm',
        side: 'sell',
        type: 'limit',
        qty: 3,
        price: 909,
        tif: 'GTC',
        postOnly: false,
        stp: 'cancel_taker',
      });
      const up = b.place({
        kind: 'place',
        orderId: 71,
        userId: 'tk',
        side: 'buy',
        type: 'limit',
        qty: 1,
        price: 909,
        tif: 'GTC',
        postOnly: false,
        stp: 'cancel_taker',
      });
      expect(up).toContainEqual({ type: 'triggered', orderId: 60, stopPrice: 909, lastPrice: 909 });
      expect(ofType(up, 'fill').filter((f) => f.takerOrderId === 60)).toMatchObject([{ qty: 1, price: 909 }]);
    }
  });

  it('issue 14: trailing fields are bad_request on other types, and one of trailingOffset and trailingBps is required', () => {
    const { place } = harness();
    expect(rejection(place({ side: 'sell', qty: 1, price: 5, trailingOffset: 1 }))).toBe('bad_request');
    expect(rejection(place({ side: 'sell', type: 'trailing_stop', qty: 1 }))).toBe('bad_request');
    expect(
      rejection(place({ side: 'sell', type: 'trailing_stop', qty: 1, trailingOffset: 1, trailingBps: 5 })),
    ).toBe('bad_request');
    expect(rejection(place({ side: 'sell', type: 'trailing_stop', qty: 1, trailingBps: 10_001 }))).toBe(
      'bad_request',
    );
    expect(
      rejection(place({ side: 'sell', type: 'trailing_stop', qty: 1, trailingOffset: 1, stopPrice: 5 })),
    ).toBe('bad_request');
  });
});
