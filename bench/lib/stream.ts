import { OrderBook } from '../../src/actors/book/orderBook.ts';
import type {
  AmendCommand,
  BookCommand,
  BookEvent,
  CancelCommand,
  PlaceCommand,
  SelfTradePrevention,
  Side,
  TimeInForce,
} from '../../src/actors/book/types.ts';
import { LiveOrders } from './live.ts';
import { Prng } from './prng.ts';

/** A recorded command stream: a prefill that builds the starting book, then the timed operations. */
export interface Stream {
  readonly name: string;
  readonly prefill: readonly PlaceCommand[];
  readonly ops: readonly BookCommand[];
  /** How many timed ops of each kind (limit_passive, limit_crossing, market, cancel, move, ...). */
  readonly mix: Readonly<Record<string, number>>;
  readonly restingAfterPrefill: number;
  readonly restingAtEnd: number;
  /** Price levels (both sides) after the prefill. */
  readonly levelsAfterPrefill: number;
  /** Orders on the most crowded level after the prefill. */
  readonly deepestLevelAfterPrefill: number;
  /** Share of timed ops that produced at least one fill, in percent. */
  readonly tradingOpsPercent: number;
  readonly eventsPerOp: number;
  /** Fills per timed op (the trading work a stream does). */
  readonly fillsPerOp: number;
}

export const BOOK_CONFIG = { maxOrders: 2_000_000, maxQty: 1_000_000 } as const;
export const MID = 1_000_000;

export function users(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `user-${i}`);
}

/** Every place command has the same fields in the same order (one hidden class, as parsed input would). */
export function place(
  orderId: number,
  userId: string,
  side: Side,
  type: 'limit' | 'market',
  qty: number,
  price: number | undefined,
  tif: TimeInForce,
): PlaceCommand {
  return placeOf(
    orderId,
    userId,
    side,
    type,
    qty,
    price,
    undefined,
    tif,
    'cancel_taker',
    undefined,
    undefined,
  );
}

/** The same shape with every field given (the issue 14 order types). */
function placeOf(
  orderId: number,
  userId: string,
  side: Side,
  type: PlaceCommand['type'],
  qty: number,
  price: number | undefined,
  stopPrice: number | undefined,
  tif: TimeInForce,
  stp: SelfTradePrevention,
  quoteBudget: number | undefined,
  expireAt: number | undefined,
  displayQty?: number,
  trailingOffset?: number,
  limitOffset?: number,
): PlaceCommand {
  return {
    kind: 'place',
    orderId,
    userId,
    clientOrderId: undefined,
    side,
    type,
    qty,
    price,
    stopPrice,
    tif,
    postOnly: false,
    stp,
    quoteBudget,
    expireAt,
    displayQty,
    trailingOffset,
    trailingBps: undefined,
    limitOffset,
  };
}

function cancel(orderId: number, userId: string): CancelCommand {
  return { kind: 'cancel', userId, orderId, clientOrderId: undefined };
}

function amendPrice(orderId: number, userId: string, price: number): AmendCommand {
  return { kind: 'amend', userId, orderId, clientOrderId: undefined, qty: undefined, price };
}

/**
 * Drives our engine while generating, so every cancel/amend names an order that rests at that point
 * and prices follow the real best bid/ask. The recorded commands are then replayed on fresh books.
 */
class Recorder {
  readonly book = new OrderBook(BOOK_CONFIG);
  readonly live: LiveOrders;
  readonly ops: BookCommand[] = [];
  readonly mix: Record<string, number> = {};
  nextId = 1;
  tradingOps = 0;
  events = 0;
  fills = 0;

  constructor(maxOrderId: number) {
    this.live = new LiveOrders(maxOrderId);
  }

  /** Executes without recording (prefill); returns the events. A FOK may answer fok_unfilled. */
  exec(cmd: BookCommand): readonly BookEvent[] {
    const events = this.book.execute(cmd);
    for (const ev of events) {
      if (
        ev.type === 'rejected' &&
        !(ev.code === 'fok_unfilled' && cmd.kind === 'place' && cmd.tif === 'FOK')
      )
        throw new Error(`stream generator: unexpected rejection ${ev.code} ${ev.message}`);
    }
    this.live.apply(events);
    return events;
  }

  record(label: string, cmd: BookCommand): void {
    const events = this.exec(cmd);
    this.ops.push(cmd);
    this.mix[label] = (this.mix[label] ?? 0) + 1;
    this.events += events.length;
    let fills = 0;
    for (const e of events) if (e.type === 'fill') fills++;
    this.fills += fills;
    if (fills > 0) this.tradingOps++;
  }

  limit(
    owner: number,
    userId: string,
    side: Side,
    price: number,
    qty: number,
    tif: TimeInForce,
  ): PlaceCommand {
    const id = this.nextId++;
    this.live.describe(id, owner, side, price);
    return place(id, userId, side, 'limit', qty, price, tif);
  }

  market(userId: string, side: Side, qty: number): PlaceCommand {
    return place(this.nextId++, userId, side, 'market', qty, undefined, 'IOC');
  }

  /**
   * One of the issue 14 order types, in equal shares: a passive GTD limit (expiring 1..2,000 ops
   * later), a crossing limit under STP decrement, a budgeted stop_market buy a few ticks above the
   * best ask, a budgeted FOK market buy, a passive iceberg (10..40 lots showing 1..5), a trailing
   * stop (3..20 ticks, half of them with a limit offset). `now` is the stream's clock (one step per op).
   */
  newType(owner: number, userId: string, side: Side, rng: Prng, now: number): [string, PlaceCommand] {
    const kind = rng.int(6);
    if (kind === 4) {
      const price = this.passivePrice(side, 1 + rng.int(300));
      const id = this.nextId++;
      this.live.describe(id, owner, side, price);
      const cmd = placeOf(
        id,
        userId,
        side,
        'limit',
        10 + rng.int(31),
        price,
        undefined,
        'GTC',
        'cancel_taker',
        undefined,
        undefined,
        1 + rng.int(5),
      );
      return ['new_iceberg', cmd];
    }
    if (kind === 5) {
      const limited = rng.int(2) === 0;
      const qty = 1 + rng.int(10);
      const budget = !limited && side === 'buy' ? qty * (this.bestAskOr() + 100) : undefined;
      const id = this.nextId++;
      // Owner known in case it rests once triggered (with a limit offset).
      this.live.describe(id, owner, side, 0);
      const cmd = placeOf(
        id,
        userId,
        side,
        'trailing_stop',
        qty,
        undefined,
        undefined,
        'GTC',
        'cancel_taker',
        budget,
        undefined,
        undefined,
        3 + rng.int(18),
        limited ? rng.int(3) : undefined,
      );
      return ['new_trailing', cmd];
    }
    if (kind === 0) {
      const price = this.passivePrice(side, 1 + rng.int(300));
      const id = this.nextId++;
      this.live.describe(id, owner, side, price);
      const expireAt = now + 1 + rng.int(2_000);
      return [
        'new_gtd',
        placeOf(
          id,
          userId,
          side,
          'limit',
          1 + rng.int(10),
          price,
          undefined,
          'GTD',
          'cancel_taker',
          undefined,
          expireAt,
        ),
      ];
    }
    if (kind === 1) {
      const price = side === 'buy' ? this.bestAskOr() + rng.int(3) : this.bestBidOr() - rng.int(3);
      const id = this.nextId++;
      this.live.describe(id, owner, side, price);
      return [
        'new_decrement',
        placeOf(
          id,
          userId,
          side,
          'limit',
          1 + rng.int(30),
          price,
          undefined,
          'GTC',
          'decrement',
          undefined,
          undefined,
        ),
      ];
    }
    const qty = 1 + rng.int(20);
    const budget = qty * (this.bestAskOr() + 10);
    if (kind === 2) {
      const stopPrice = this.bestAskOr() + 1 + rng.int(5);
      return [
        'new_stop_market_buy',
        placeOf(
          this.nextId++,
          userId,
          'buy',
          'stop_market',
          qty,
          undefined,
          stopPrice,
          'GTC',
          'cancel_taker',
          budget,
          undefined,
        ),
      ];
    }
    return [
      'new_fok_budget_buy',
      placeOf(
        this.nextId++,
        userId,
        'buy',
        'market',
        qty,
        undefined,
        undefined,
        'FOK',
        'cancel_maker',
        budget,
        undefined,
      ),
    ];
  }

  /** Reference prices: the opposite best for a side, or the own best, or the starting mid. */
  bestAskOr(): number {
    return this.book.bestAsk() ?? (this.book.bestBid() ?? MID - 1) + 1;
  }

  bestBidOr(): number {
    return this.book.bestBid() ?? (this.book.bestAsk() ?? MID + 1) - 1;
  }

  /** A non-crossing price `offset` ticks (>= 1) away from the opposite best. */
  passivePrice(side: Side, offset: number): number {
    return side === 'buy' ? this.bestAskOr() - offset : this.bestBidOr() + offset;
  }

  finish(
    name: string,
    prefill: PlaceCommand[],
    restingAfterPrefill: number,
    levels: number,
    deepest: number,
  ): Stream {
    return {
      name,
      prefill,
      ops: this.ops,
      mix: this.mix,
      restingAfterPrefill,
      restingAtEnd: this.book.size,
      levelsAfterPrefill: levels,
      deepestLevelAfterPrefill: deepest,
      tradingOpsPercent: Math.round((1000 * this.tradingOps) / this.ops.length) / 10,
      eventsPerOp: Math.round((100 * this.events) / this.ops.length) / 100,
      fillsPerOp: Math.round((1000 * this.fills) / this.ops.length) / 1000,
    };
  }
}

function levelStats(book: OrderBook): { levels: number; deepest: number } {
  const perLevel = new Map<string, number>();
  for (const o of book.openOrders().resting) {
    const key = `${o.side}:${o.price ?? 0}`;
    perLevel.set(key, (perLevel.get(key) ?? 0) + 1);
  }
  return { levels: perLevel.size, deepest: Math.max(0, ...perLevel.values()) };
}

const sideOf = (rng: Prng): Side => (rng.int(2) === 0 ? 'buy' : 'sell');

/**
 * Distance in ticks from the opposite best for a passive order: `deepPercent`% of orders land within
 * 1..deepTicks (a handful of very deep levels), the rest spread over the next `wideTicks` ticks.
 */
function nearOffset(rng: Prng, shape: BookShape): number {
  return rng.chance(shape.deepPercent)
    ? 1 + rng.int(shape.deepTicks)
    : 1 + shape.deepTicks + rng.int(shape.wideTicks);
}

export interface BookShape {
  readonly deepPercent: number;
  readonly deepTicks: number;
  readonly wideTicks: number;
}

export interface MixedOptions {
  readonly seed: number;
  readonly shape: BookShape;
  readonly users: number;
  readonly prefill: number;
  readonly ops: number;
  /** Issue 14: this percent of the ops are the new order types (Recorder.newType), and every 100th op an `expire`. */
  readonly newTypesPercent?: number;
}

/**
 * The comparison stream: 60% passive GTC limits near the touch (placed by `shape`, measured from the
 * opposite best), 25% cancels of random resting orders, 10% crossing GTC limits (0..2 ticks through the
 * opposite best; the remainder rests), 5% market orders. Lots: 1..10 passive, 1..30 crossing, 1..40
 * market. The prefill uses the same shape around a fixed mid. Users are drawn uniformly from `users`.
 */
export function mixedStream(opts: MixedOptions): Stream {
  const rng = new Prng(opts.seed);
  const names = users(opts.users);
  const rec = new Recorder(opts.prefill + opts.ops + 1);
  const prefill: PlaceCommand[] = [];
  for (let i = 0; i < opts.prefill; i++) {
    const owner = rng.int(opts.users);
    const side = sideOf(rng);
    const price = side === 'buy' ? MID - nearOffset(rng, opts.shape) : MID + nearOffset(rng, opts.shape);
    const cmd = rec.limit(owner, names[owner]!, side, price, 1 + rng.int(10), 'GTC');
    rec.exec(cmd);
    prefill.push(cmd);
  }
  const restingAfterPrefill = rec.book.size;
  const { levels, deepest } = levelStats(rec.book);

  const newTypes = opts.newTypesPercent ?? 0;
  for (let i = 0; i < opts.ops; i++) {
    const roll = rng.int(100);
    const owner = rng.int(opts.users);
    const userId = names[owner]!;
    const side = sideOf(rng);
    if (newTypes > 0 && i % 100 === 99) {
      rec.record('new_expire', { kind: 'expire', now: i });
    } else if (newTypes > 0 && rng.int(100) < newTypes) {
      const [label, cmd] = rec.newType(owner, userId, side, rng, i);
      rec.record(label, cmd);
    } else if (roll < 25 && rec.live.size > 0) {
      const id = rec.live.pick(rng.next());
      rec.record('cancel', cancel(id, names[rec.live.owner[id]!]!));
    } else if (roll < 35) {
      const through = rng.int(3);
      const price = side === 'buy' ? rec.bestAskOr() + through : rec.bestBidOr() - through;
      rec.record('limit_crossing', rec.limit(owner, userId, side, price, 1 + rng.int(30), 'GTC'));
    } else if (roll < 40) {
      rec.record('market', rec.market(userId, side, 1 + rng.int(40)));
    } else {
      const price = rec.passivePrice(side, nearOffset(rng, opts.shape));
      rec.record('limit_passive', rec.limit(owner, userId, side, price, 1 + rng.int(10), 'GTC'));
    }
  }
  return rec.finish('mixed', prefill, restingAfterPrefill, levels, deepest);
}

export interface ExchangeCoreOptions {
  readonly seed: number;
  readonly users: number;
  readonly prefill: number;
  readonly ops: number;
}

/** Price slots per side for the exchange-core-like book (~1,000 orders on ~750 slots in total). */
const EC_SLOTS = 375;
/** IOC size: 1..EC_IOC_LOTS lots. */
const EC_IOC_LOTS = 10;
/** Resting orders the generator aims for. */
const EC_TARGET_ORDERS = 1000;
/** Percent of GTC limits that cross (0..2 ticks through) while the book is above its target size. */
const EC_CROSSING_GTC = 40;
/** Percent of would-cross moves allowed to cross (and trade); the rest turn away from the touch. */
const EC_CROSSING_MOVES = 5;

/**
 * exchange-core's published benchmark mix on one order book: 82% moves (amend the price of a random
 * resting order by 1..4 ticks), 9% GTC limits, 6% cancels, 3% IOC limits (1..10 lots, 0..2 ticks
 * through the opposite best); ~1,000 resting orders over ~750 price slots and 1,000 users. A move goes
 * toward or away from the touch at random; a move that would cross is turned away from the touch
 * except EC_CROSSING_MOVES% of the time (those trade); orders more than 375 ticks from the opposite
 * best always move in. GTC limits are passive, except that while the book holds more than ~1,000
 * orders EC_CROSSING_GTC% of them cross by 0..2 ticks, which keeps the book near that size.
 */
export function exchangeCoreStream(opts: ExchangeCoreOptions): Stream {
  const rng = new Prng(opts.seed);
  const names = users(opts.users);
  const rec = new Recorder(opts.prefill + opts.ops + 1);
  const prefill: PlaceCommand[] = [];
  for (let i = 0; i < opts.prefill; i++) {
    const owner = rng.int(opts.users);
    const side = sideOf(rng);
    const offset = 1 + rng.int(EC_SLOTS);
    const price = side === 'buy' ? MID - offset : MID + offset;
    const cmd = rec.limit(owner, names[owner]!, side, price, 1 + rng.int(10), 'GTC');
    rec.exec(cmd);
    prefill.push(cmd);
  }
  const restingAfterPrefill = rec.book.size;
  const { levels, deepest } = levelStats(rec.book);

  for (let i = 0; i < opts.ops; i++) {
    const roll = rng.int(100);
    if (roll < 82 && rec.live.size > 0) {
      const id = rec.live.pick(rng.next());
      const live = rec.live;
      const isBuy = live.sell[id] === 0;
      const price = live.price[id]!;
      // Distance from the opposite best (>= 1 for a resting order).
      const distance = isBuy ? rec.bestAskOr() - price : price - rec.bestBidOr();
      const step = 1 + rng.int(4);
      let toward = distance > EC_SLOTS || rng.int(2) === 0;
      if (toward && step >= distance && !rng.chance(EC_CROSSING_MOVES)) toward = false;
      const newPrice = isBuy === toward ? price + step : price - step;
      rec.record('move', amendPrice(id, names[live.owner[id]!]!, newPrice));
      continue;
    }
    const owner = rng.int(opts.users);
    const userId = names[owner]!;
    const side = sideOf(rng);
    if (roll < 91) {
      // Crossing GTC limits hold the book near its target size, as exchange-core's generator does.
      const cross = rec.live.size > EC_TARGET_ORDERS && rng.chance(EC_CROSSING_GTC);
      const price = !cross
        ? rec.passivePrice(side, 1 + rng.int(EC_SLOTS))
        : side === 'buy'
          ? rec.bestAskOr() + rng.int(3)
          : rec.bestBidOr() - rng.int(3);
      rec.record('limit_gtc', rec.limit(owner, userId, side, price, 1 + rng.int(10), 'GTC'));
    } else if (roll < 97 && rec.live.size > 0) {
      const id = rec.live.pick(rng.next());
      rec.record('cancel', cancel(id, names[rec.live.owner[id]!]!));
    } else {
      const price = side === 'buy' ? rec.bestAskOr() + rng.int(3) : rec.bestBidOr() - rng.int(3);
      rec.record('limit_ioc', rec.limit(owner, userId, side, price, 1 + rng.int(EC_IOC_LOTS), 'IOC'));
    }
  }
  return rec.finish('exchange_core', prefill, restingAfterPrefill, levels, deepest);
}

/** A fresh book holding the stream's prefill. */
export function prefilledBook(stream: Stream): OrderBook {
  const book = new OrderBook(BOOK_CONFIG);
  for (const cmd of stream.prefill) book.place(cmd);
  return book;
}
