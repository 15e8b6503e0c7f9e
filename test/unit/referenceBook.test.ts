import { beforeEach, describe, expect, it } from 'vitest';
import type { BookEvent, PlaceCommand } from '../../src/actors/book/types.ts';
import { checkInvariants } from '../reference/invariants.ts';
import { ReferenceBook } from '../reference/referenceBook.ts';

/**
 * The reference model checked against examples worked out by hand from the spec in types.ts, so it
 * is trusted because a person agreed with it, not only because the engine does.
 */

let nextId = 1;
function order(fields: Partial<PlaceCommand> & Pick<PlaceCommand, 'userId' | 'side'>): PlaceCommand {
  return {
    kind: 'place',
    orderId: nextId++,
    type: 'limit',
    qty: 1,
    tif: 'GTC',
    postOnly: false,
    stp: 'cancel_taker',
    ...fields,
  };
}

/** Orders are built (and numbered) by the caller before the book sees them. */
function bookWith(...orders: PlaceCommand[]): ReferenceBook {
  const book = new ReferenceBook({ maxOrders: 100, maxQty: 1000 });
  for (const command of orders) book.execute(command);
  return book;
}

function run(book: ReferenceBook, command: Parameters<ReferenceBook['execute']>[0]): BookEvent[] {
  const events = book.execute(command);
  checkInvariants(book);
  return events;
}

/** The events that matter for a test, without the accepted echo and level totals. */
const trades = (events: BookEvent[]) => events.filter((e) => e.type !== 'accepted' && e.type !== 'level');
const levels = (events: BookEvent[]) => events.filter((e) => e.type === 'level');

const fill = (
  taker: number,
  maker: number,
  price: number,
  qty: number,
  takerRemaining: number,
  makerRemaining: number,
): unknown =>
  expect.objectContaining({
    type: 'fill',
    takerOrderId: taker,
    makerOrderId: maker,
    price,
    qty,
    takerRemaining,
    makerRemaining,
  });

describe('ReferenceBook, hand-computed', () => {
  beforeEach(() => {
    nextId = 1;
  });

  it('fills best price first, then FIFO on a level, at the maker price; a filled taker gets no closing event', () => {
    const book = bookWith(
      order({ userId: 'ann', side: 'sell', qty: 5, price: 10 }), // 1
      order({ userId: 'bob', side: 'sell', qty: 5, price: 10 }), // 2
      order({ userId: 'cat', side: 'sell', qty: 5, price: 9 }), // 3
    );
    const events = run(book, order({ userId: 'dan', side: 'buy', qty: 12, price: 10 }));
    expect(trades(events)).toEqual([
      fill(4, 3, 9, 5, 7, 0),
      fill(4, 1, 10, 5, 2, 0),
      fill(4, 2, 10, 2, 0, 3),
    ]);
    expect(levels(events)).toEqual([
      { type: 'level', side: 'sell', price: 9, qty: 0 },
      { type: 'level', side: 'sell', price: 10, qty: 3 },
    ]);
    expect(book.lastPrice).toBe(10);
    expect(book.depth('sell', 0)).toEqual([[10, 3]]);
  });

  it('rests the remainder of a partially filled GTC limit and lists levels buys first', () => {
    const book = bookWith(order({ userId: 'ann', side: 'sell', qty: 3, price: 10 }));
    const events = run(book, order({ userId: 'bob', side: 'buy', qty: 5, price: 11 }));
    expect(events).toEqual([
      expect.objectContaining({ type: 'accepted', orderId: 2, qty: 5, price: 11 }),
      fill(2, 1, 10, 3, 2, 0),
      { type: 'rested', orderId: 2, side: 'buy', price: 11, remaining: 2 },
      { type: 'level', side: 'buy', price: 11, qty: 2 },
      { type: 'level', side: 'sell', price: 10, qty: 0 },
    ]);
  });

  describe('self-trade prevention (ann meets her own order at the head of the asks)', () => {
    const asks = () =>
      bookWith(
        order({ userId: 'ann', side: 'sell', qty: 2, price: 10 }),
        order({ userId: 'bob', side: 'sell', qty: 2, price: 10 }),
      );
    const canceled = (orderId: number, remaining: number) => ({
      type: 'canceled',
      orderId,
      userId: 'ann',
      remaining,
      reason: 'self_trade',
    });

    it('cancel_taker cancels the taker and leaves the book alone', () => {
      const events = run(
        asks(),
        order({ userId: 'ann', side: 'buy', qty: 3, price: 10, stp: 'cancel_taker' }),
      );
      expect(trades(events)).toEqual([canceled(3, 3)]);
      expect(levels(events)).toEqual([]);
    });

    it('cancel_maker cancels her maker and keeps matching', () => {
      const events = run(
        asks(),
        order({ userId: 'ann', side: 'buy', qty: 3, price: 10, stp: 'cancel_maker' }),
      );
      expect(trades(events)).toEqual([
        canceled(1, 2),
        fill(3, 2, 10, 2, 1, 0),
        { type: 'rested', orderId: 3, side: 'buy', price: 10, remaining: 1 },
      ]);
    });

    it('cancel_both cancels the maker, then the taker', () => {
      const events = run(
        asks(),
        order({ userId: 'ann', side: 'buy', qty: 3, price: 10, stp: 'cancel_both' }),
      );
      expect(trades(events)).toEqual([canceled(1, 2), canceled(3, 3)]);
      expect(levels(events)).toEqual([{ type: 'level', side: 'sell', price: 10, qty: 2 }]);
    });
  });

  it('runs a stop cascade: each fill triggers the next stop, executed after the current order', () => {
    const book = bookWith(
      order({ userId: 'bob', side: 'sell', qty: 1, price: 10 }), // 1
      order({ userId: 'bob', side: 'sell', qty: 1, price: 11 }), // 2
      order({ userId: 'bob', side: 'sell', qty: 1, price: 12 }), // 3
      order({ userId: 'cat', side: 'buy', type: 'stop_market', qty: 1, stopPrice: 10 }), // 4: pending, no last price
      order({ userId: 'dan', side: 'buy', type: 'stop_market', qty: 1, stopPrice: 11 }), // 5
    );
    expect(book.openOrders().stops.map((s) => s.orderId)).toEqual([4, 5]);
    const events = run(book, order({ userId: 'ann', side: 'buy', qty: 1, price: 10 }));
    expect(trades(events)).toEqual([
      fill(6, 1, 10, 1, 0, 0),
      { type: 'triggered', orderId: 4, stopPrice: 10, lastPrice: 10 },
      fill(4, 2, 11, 1, 0, 0),
      { type: 'triggered', orderId: 5, stopPrice: 11, lastPrice: 11 },
      fill(5, 3, 12, 1, 0, 0),
    ]);
    expect(book.lastPrice).toBe(12);
    expect(book.openOrders()).toEqual({ resting: [], stops: [] });
  });

  it('on the first trade ever, triggers buy stops before sell stops (a reading the spec leaves open)', () => {
    const book = bookWith(
      order({ userId: 'cat', side: 'sell', type: 'stop_market', qty: 1, stopPrice: 15 }), // 1: pending, no last
      order({ userId: 'dan', side: 'buy', type: 'stop_market', qty: 1, stopPrice: 5 }), // 2
      order({ userId: 'bob', side: 'sell', qty: 1, price: 10 }), // 3
    );
    const events = run(book, order({ userId: 'ann', side: 'buy', qty: 1, price: 10 }));
    expect(trades(events)).toEqual([
      fill(4, 3, 10, 1, 0, 0),
      { type: 'triggered', orderId: 2, stopPrice: 5, lastPrice: 10 },
      { type: 'triggered', orderId: 1, stopPrice: 15, lastPrice: 10 },
      { type: 'canceled', orderId: 2, userId: 'dan', remaining: 1, reason: 'unfilled' },
      { type: 'canceled', orderId: 1, userId: 'cat', remaining: 1, reason: 'unfilled' },
    ]);
  });

  it('triggers a stop at once when the last price already satisfies it', () => {
    const book = bookWith(
      order({ userId: 'bob', side: 'sell', qty: 2, price: 10 }),
      order({ userId: 'ann', side: 'buy', qty: 1, price: 10 }),
    );
    const events = run(
      book,
      order({ userId: 'cat', side: 'sell', type: 'stop_limit', qty: 1, price: 9, stopPrice: 10 }),
    );
    expect(trades(events)).toEqual([
      { type: 'triggered', orderId: 3, stopPrice: 10, lastPrice: 10 },
      { type: 'rested', orderId: 3, side: 'sell', price: 9, remaining: 1 },
    ]);
  });

  describe('FOK with self-trade prevention (ann buys 4 at 11; asks: bob 2@10, ann 2@10, bob 2@11)', () => {
    const asks = () =>
      bookWith(
        order({ userId: 'bob', side: 'sell', qty: 2, price: 10 }),
        order({ userId: 'ann', side: 'sell', qty: 2, price: 10 }),
        order({ userId: 'bob', side: 'sell', qty: 2, price: 11 }),
      );

    it('cancel_taker: her own maker ends the walk at 2 lots, so it is rejected', () => {
      const events = run(asks(), order({ userId: 'ann', side: 'buy', qty: 4, price: 11, tif: 'FOK' }));
      expect(events).toEqual([
        expect.objectContaining({ type: 'rejected', orderId: 4, code: 'fok_unfilled' }),
      ]);
    });

    it('cancel_maker: her maker is skipped in the walk, then canceled during execution', () => {
      const events = run(
        asks(),
        order({ userId: 'ann', side: 'buy', qty: 4, price: 11, tif: 'FOK', stp: 'cancel_maker' }),
      );
      expect(trades(events)).toEqual([
        fill(4, 1, 10, 2, 2, 0),
        { type: 'canceled', orderId: 2, userId: 'ann', remaining: 2, reason: 'self_trade' },
        fill(4, 3, 11, 2, 0, 0),
      ]);
    });
  });

  describe('amend', () => {
    const asks = () =>
      bookWith(
        order({ userId: 'ann', side: 'sell', qty: 5, price: 10 }),
        order({ userId: 'bob', side: 'sell', qty: 5, price: 10 }),
      );

    it('keeps priority when only reducing qty', () => {
      const book = asks();
      expect(run(book, { kind: 'amend', userId: 'ann', orderId: 1, qty: 3 })).toEqual([
        { type: 'amended', orderId: 1, price: 10, qty: 3, remaining: 3, priorityKept: true },
        { type: 'level', side: 'sell', price: 10, qty: 8 },
      ]);
      expect(trades(run(book, order({ userId: 'cat', side: 'buy', qty: 3, price: 10 })))).toEqual([
        fill(3, 1, 10, 3, 0, 0),
      ]);
    });

    it('loses priority when raising qty', () => {
      const book = asks();
      expect(trades(run(book, { kind: 'amend', userId: 'ann', orderId: 1, qty: 6 }))).toEqual([
        { type: 'amended', orderId: 1, price: 10, qty: 6, remaining: 6, priorityKept: false },
        { type: 'rested', orderId: 1, side: 'sell', price: 10, remaining: 6 },
      ]);
      expect(trades(run(book, order({ userId: 'cat', side: 'buy', qty: 3, price: 10 })))).toEqual([
        fill(3, 2, 10, 3, 0, 2),
      ]);
    });

    it('re-enters aggressively at a crossing price, counting earlier fills', () => {
      const book = bookWith(
        order({ userId: 'ann', side: 'sell', qty: 5, price: 12 }), // 1
        order({ userId: 'bob', side: 'buy', qty: 1, price: 12 }), // 2: fills 1 of ann's 5
        order({ userId: 'bob', side: 'buy', qty: 2, price: 9 }), // 3
      );
      expect(trades(run(book, { kind: 'amend', userId: 'ann', orderId: 1, price: 9 }))).toEqual([
        { type: 'amended', orderId: 1, price: 9, qty: 5, remaining: 4, priorityKept: false },
        fill(1, 3, 9, 2, 2, 0),
        { type: 'rested', orderId: 1, side: 'sell', price: 9, remaining: 2 },
      ]);
      expect(run(book, { kind: 'amend', userId: 'ann', orderId: 1, qty: 3 })).toEqual([
        expect.objectContaining({ type: 'rejected', command: 'amend', orderId: 1, code: 'bad_request' }),
      ]);
    });

    it('rejects a post-only amend that would cross, changing nothing', () => {
      const book = bookWith(
        order({ userId: 'ann', side: 'sell', qty: 5, price: 12, postOnly: true }),
        order({ userId: 'bob', side: 'buy', qty: 1, price: 9 }),
      );
      expect(
        run(book, { kind: 'amend', userId: 'ann', clientOrderId: undefined, orderId: 1, price: 9 }),
      ).toEqual([expect.objectContaining({ type: 'rejected', orderId: 1, code: 'would_match' })]);
      expect(book.depth('sell', 0)).toEqual([[12, 5]]);
    });
  });

  it('spends a quote budget exactly: floor(budget / price) lots at each maker', () => {
    const book = bookWith(
      order({ userId: 'bob', side: 'sell', qty: 3, price: 7 }),
      order({ userId: 'bob', side: 'sell', qty: 5, price: 8 }),
    );
    const events = run(
      book,
      order({ userId: 'ann', side: 'buy', type: 'market', qty: 10, quoteBudget: 30, price: undefined }),
    );
    // 3 lots at 7 cost 21, leaving 9: one lot at 8, then 1 left cannot buy a lot at 8.
    expect(trades(events)).toEqual([
      fill(3, 1, 7, 3, 7, 0),
      fill(3, 2, 8, 1, 6, 4),
      { type: 'canceled', orderId: 3, userId: 'ann', remaining: 6, reason: 'unfilled' },
    ]);
  });

  it('rejects in the spec order and names the target only when named by id', () => {
    const book = bookWith(order({ userId: 'ann', side: 'sell', qty: 1, price: 10, clientOrderId: 'x' }));
    const rejectedCode = (events: BookEvent[]) =>
      events.map((e) => (e.type === 'rejected' ? [e.orderId, e.code] : e.type));
    expect(
      rejectedCode(run(book, order({ userId: 'ann', side: 'buy', qty: 0, price: 10, clientOrderId: 'x' }))),
    ).toEqual([[2, 'bad_request']]);
    expect(
      rejectedCode(run(book, order({ userId: 'ann', side: 'buy', price: 10, clientOrderId: 'x' }))),
    ).toEqual([[3, 'duplicate_client_order_id']]);
    expect(rejectedCode(run(book, order({ userId: 'bob', side: 'buy', price: 10, postOnly: true })))).toEqual(
      [[4, 'would_match']],
    );
    expect(rejectedCode(run(book, { kind: 'cancel', userId: 'bob', orderId: 1 }))).toEqual([
      [1, 'not_found'],
    ]);
    expect(rejectedCode(run(book, { kind: 'cancel', userId: 'bob', clientOrderId: 'x' }))).toEqual([
      [undefined, 'not_found'],
    ]);
    expect(rejectedCode(run(book, { kind: 'cancel', userId: 'bob' }))).toEqual([[undefined, 'bad_request']]);
    expect(run(book, { kind: 'cancel', userId: 'ann', clientOrderId: 'x' })).toEqual([
      { type: 'canceled', orderId: 1, userId: 'ann', remaining: 1, reason: 'user' },
      { type: 'level', side: 'sell', price: 10, qty: 0 },
    ]);
  });

  it('answers overloaded once maxOrders orders are open, pending stops included', () => {
    const book = new ReferenceBook({ maxOrders: 2, maxQty: 10 });
    book.execute(order({ userId: 'ann', side: 'sell', qty: 1, price: 10 }));
    book.execute(order({ userId: 'ann', side: 'buy', type: 'stop_market', qty: 1, stopPrice: 15 }));
    expect(book.execute(order({ userId: 'bob', side: 'buy', qty: 1, price: 10, tif: 'IOC' }))).toEqual([
      expect.objectContaining({ type: 'rejected', orderId: 3, code: 'overloaded' }),
    ]);
  });
});
