import { LevelChanges } from './levelChanges.ts';
import { Order, isMarketLike, isPostOnly, isSell, isStop, packFlags, sideOf, stpOf, tifOf } from './order.ts';
import { PriceLadder } from './priceLadder.ts';
import { OpenOrders } from './openOrders.ts';
import { amendProblem, checkConfig, placeProblem, refProblem } from './validate.ts';
import type {
  AmendCommand,
  BookCommand,
  BookConfig,
  BookEvent,
  BookSnapshot,
  CancelCommand,
  CancelReason,
  MatchingEngine,
  OpenOrder,
  PlaceCommand,
  RejectCode,
  Side,
} from './types.ts';

/**
 * A market's order book and matching engine: pure, synchronous, integer-only. Every command returns
 * the events it caused (see types.ts for the rules). Owned by exactly one market actor.
 */
export class OrderBook implements MatchingEngine {
  lastPrice: number | null = null;
  private readonly changes = new LevelChanges();
  private readonly bids = new PriceLadder(-1, false, this.changes);
  private readonly asks = new PriceLadder(1, true, this.changes);
  private readonly buyStops = new PriceLadder(1, false);
  private readonly sellStops = new PriceLadder(-1, true);
  private readonly open = new OpenOrders();
  /** Stops triggered during the current command, executed in order once the current order is done. */
  private triggered: Order[] = [];
  private events: BookEvent[] = [];

  constructor(readonly config: BookConfig) {
    checkConfig(config);
  }

  execute(command: BookCommand): BookEvent[] {
    switch (command.kind) {
      case 'place':
        return this.place(command);
      case 'cancel':
        return this.cancel(command);
      case 'amend':
        return this.amend(command);
      case 'cancel_all':
        return this.cancelAll(command.userId);
    }
  }

  place(cmd: PlaceCommand): BookEvent[] {
    this.begin();
    const problem = placeProblem(cmd, this.config);
    if (problem !== undefined) return this.reject('place', cmd.orderId, 'bad_request', problem);
    if (cmd.clientOrderId !== undefined && this.open.byClientId(cmd.userId, cmd.clientOrderId)) {
      const message = `clientOrderId ${cmd.clientOrderId} is already used by an open order`;
      return this.reject('place', cmd.orderId, 'duplicate_client_order_id', message);
    }
    if (this.open.size >= this.config.maxOrders) {
      return this.reject('place', cmd.orderId, 'overloaded', 'the book holds its maximum number of orders');
    }
    const flags = packFlags(cmd.side, cmd.type, cmd.tif, cmd.postOnly, cmd.stp);
    const order = new Order(
      cmd.orderId,
      cmd.userId,
      cmd.clientOrderId,
      flags,
      cmd.price ?? 0,
      cmd.stopPrice ?? 0,
      cmd.qty,
      cmd.qty,
    );
    if (!isStop(flags)) {
      if (cmd.postOnly && this.crosses(order, order.price)) {
        return this.reject('place', cmd.orderId, 'would_match', 'a post-only order would take liquidity');
      }
      if (cmd.tif === 'FOK' && !this.canFillCompletely(order)) {
        return this.reject('place', cmd.orderId, 'fok_unfilled', 'the order cannot be filled completely');
      }
    }
    this.events.push({
      type: 'accepted',
      orderId: cmd.orderId,
      userId: cmd.userId,
      clientOrderId: cmd.clientOrderId,
      side: cmd.side,
      orderType: cmd.type,
      tif: cmd.tif,
      qty: cmd.qty,
      price: cmd.price,
      stopPrice: cmd.stopPrice,
      quoteBudget: cmd.quoteBudget,
    });
    if (!isStop(flags)) this.run(order, false, cmd.quoteBudget);
    else if (this.lastPrice !== null && this.stopsOf(flags).reaches(order.stopPrice, this.lastPrice)) {
      this.events.push({
        type: 'triggered',
        orderId: order.orderId,
        stopPrice: order.stopPrice,
        lastPrice: this.lastPrice,
      });
      this.activate(order, false);
      this.drainTriggered();
    } else {
      this.open.add(order);
      this.stopsOf(flags).append(order, order.stopPrice);
      this.events.push({
        type: 'pending',
        orderId: order.orderId,
        side: cmd.side,
        stopPrice: order.stopPrice,
      });
    }
    return this.end();
  }

  cancel(cmd: CancelCommand): BookEvent[] {
    this.begin();
    const problem = refProblem(cmd);
    if (problem !== undefined) return this.reject('cancel', cmd.orderId, 'bad_request', problem);
    const order = this.open.find(cmd);
    if (order === undefined) return this.reject('cancel', cmd.orderId, 'not_found', 'no such open order');
    this.cancelOpen(order, 'user');
    return this.end();
  }

  cancelAll(userId: string): BookEvent[] {
    this.begin();
    for (const order of this.open.ofUser(userId).sort((a, b) => a.orderId - b.orderId)) {
      this.cancelOpen(order, 'user');
    }
    return this.end();
  }

  amend(cmd: AmendCommand): BookEvent[] {
    this.begin();
    const problem = amendProblem(cmd, this.config);
    if (problem !== undefined) return this.reject('amend', cmd.orderId, 'bad_request', problem);
    const order = this.open.find(cmd);
    if (order === undefined) return this.reject('amend', cmd.orderId, 'not_found', 'no such open order');
    if (isStop(order.flags) && order.level!.ladder === this.stopsOf(order.flags)) {
      return this.reject('amend', cmd.orderId, 'bad_request', 'a pending stop order cannot be amended');
    }
    const filled = order.qty - order.remaining;
    const qty = cmd.qty ?? order.qty;
    const price = cmd.price ?? order.price;
    if (qty <= filled) {
      return this.reject('amend', cmd.orderId, 'bad_request', `qty must exceed the filled ${filled} lots`);
    }
    const book = order.level!.ladder;
    if (price === order.price && qty <= order.qty) {
      if (qty < order.qty) book.reduce(order, order.qty - qty);
      order.qty = qty;
      this.pushAmended(order, true);
      return this.end();
    }
    if (isPostOnly(order.flags) && this.crosses(order, price)) {
      return this.reject('amend', cmd.orderId, 'would_match', 'a post-only order would take liquidity');
    }
    book.unlink(order);
    order.price = price;
    order.qty = qty;
    order.remaining = qty - filled;
    this.pushAmended(order, false);
    this.run(order, true, undefined);
    return this.end();
  }

  bestBid(): number | undefined {
    return this.bids.front?.price;
  }

  bestAsk(): number | undefined {
    return this.asks.front?.price;
  }

  depth(side: Side, n: number): [number, number][] {
    return (side === 'buy' ? this.bids : this.asks).depth(n);
  }

  openOrders(): { resting: OpenOrder[]; stops: OpenOrder[] } {
    return {
      resting: [...this.ordersOn(this.bids), ...this.ordersOn(this.asks)],
      stops: [...this.ordersOn(this.buyStops), ...this.ordersOn(this.sellStops)],
    };
  }

  /** The open order with this id, or undefined. */
  order(orderId: number): OpenOrder | undefined {
    return this.open.get(orderId)?.toOpenOrder();
  }

  /** Number of open orders (resting + pending stops). */
  get size(): number {
    return this.open.size;
  }

  snapshot(): BookSnapshot {
    return { version: 1, config: this.config, lastPrice: this.lastPrice, ...this.openOrders() };
  }

  static restore(snapshot: BookSnapshot): OrderBook {
    const book = new OrderBook(snapshot.config);
    book.lastPrice = snapshot.lastPrice;
    for (const o of snapshot.resting) {
      const order = orderFrom(o);
      book.open.add(order);
      (isSell(order.flags) ? book.asks : book.bids).append(order, order.price);
    }
    for (const o of snapshot.stops) {
      const order = orderFrom(o);
      book.open.add(order);
      book.stopsOf(order.flags).append(order, order.stopPrice);
    }
    return book;
  }

  private begin(): void {
    this.events = [];
    this.changes.begin();
  }

  private end(): BookEvent[] {
    this.changes.flush(this.events, this.bids, this.asks);
    return this.events;
  }

  private reject(
    command: BookCommand['kind'],
    orderId: number | undefined,
    code: RejectCode,
    message: string,
  ) {
    this.events.push({ type: 'rejected', command, orderId, code, message });
    return this.end();
  }

  /**
   * Executes an order that may take liquidity, rests or cancels what is left, then runs the stops
   * its fills triggered. `isOpen` says whether the order is already among the open orders.
   */
  private run(order: Order, isOpen: boolean, quoteBudget: number | undefined): void {
    this.settle(order, isOpen, quoteBudget);
    this.drainTriggered();
  }

  private drainTriggered(): void {
    // The queue grows while it runs: fills of triggered orders trigger further stops.
    for (let i = 0; i < this.triggered.length; i++) this.activate(this.triggered[i]!, true);
    this.triggered = [];
  }

  /** Executes a triggered stop as the limit or market order it becomes. */
  private activate(order: Order, isOpen: boolean): void {
    if (isPostOnly(order.flags) && this.crosses(order, order.price)) {
      this.finishCanceled(order, isOpen, 'would_match');
    } else if (tifOf(order.flags) === 'FOK' && !this.canFillCompletely(order)) {
      this.finishCanceled(order, isOpen, 'fok_unfilled');
    } else {
      this.settle(order, isOpen, undefined);
    }
  }

  private settle(order: Order, isOpen: boolean, quoteBudget: number | undefined): void {
    if (this.match(order, quoteBudget)) {
      if (isOpen) this.open.remove(order);
    } else if (order.remaining === 0) {
      if (isOpen) this.open.remove(order);
    } else if (isMarketLike(order.flags) || tifOf(order.flags) !== 'GTC') {
      this.finishCanceled(order, isOpen, 'unfilled');
    } else {
      if (!isOpen) this.open.add(order);
      (isSell(order.flags) ? this.asks : this.bids).append(order, order.price);
      this.events.push({
        type: 'rested',
        orderId: order.orderId,
        side: sideOf(order.flags),
        price: order.price,
        remaining: order.remaining,
      });
    }
  }

  /** Matches the taker against the opposite side; true when self-trade prevention canceled it. */
  private match(taker: Order, quoteBudget: number | undefined): boolean {
    const book = isSell(taker.flags) ? this.bids : this.asks;
    const anyPrice = isMarketLike(taker.flags);
    let budget = quoteBudget;
    while (taker.remaining > 0) {
      const level = book.front;
      if (level === undefined) break;
      const price = level.price;
      if (!anyPrice && !book.reaches(price, taker.price)) break;
      let qty = taker.remaining;
      if (budget !== undefined) {
        const affordable = lotsAffordable(budget, price);
        if (affordable === 0) break;
        if (affordable < qty) qty = affordable;
      }
      const maker = level.head!;
      if (maker.userId === taker.userId) {
        const stp = stpOf(taker.flags);
        if (stp !== 'cancel_taker') this.cancelOpen(maker, 'self_trade');
        if (stp === 'cancel_maker') continue;
        this.pushCanceled(taker, 'self_trade');
        return true;
      }
      if (maker.remaining < qty) qty = maker.remaining;
      book.reduce(maker, qty);
      taker.remaining -= qty;
      if (budget !== undefined) budget -= qty * price;
      this.events.push({
        type: 'fill',
        takerOrderId: taker.orderId,
        takerUserId: taker.userId,
        makerOrderId: maker.orderId,
        makerUserId: maker.userId,
        takerSide: sideOf(taker.flags),
        price,
        qty,
        takerRemaining: taker.remaining,
        makerRemaining: maker.remaining,
      });
      if (maker.remaining === 0) {
        book.unlink(maker);
        this.open.remove(maker);
      }
      this.lastPrice = price;
      this.triggerStops(this.buyStops, price);
      this.triggerStops(this.sellStops, price);
    }
    return false;
  }

  private triggerStops(stops: PriceLadder, lastPrice: number): void {
    let level = stops.front;
    while (level !== undefined && stops.reaches(level.price, lastPrice)) {
      const order = level.head!;
      stops.unlink(order);
      this.triggered.push(order);
      this.events.push({ type: 'triggered', orderId: order.orderId, stopPrice: order.stopPrice, lastPrice });
      level = stops.front;
    }
  }

  /** FOK feasibility: walks makers in priority order as matching would, without changing anything. */
  private canFillCompletely(taker: Order): boolean {
    const book = isSell(taker.flags) ? this.bids : this.asks;
    const anyPrice = isMarketLike(taker.flags);
    const skipOwn = stpOf(taker.flags) === 'cancel_maker';
    let needed = taker.remaining;
    for (const level of book.levels()) {
      if (!anyPrice && !book.reaches(level.price, taker.price)) return false;
      for (let maker = level.head; maker !== undefined; maker = maker.next) {
        if (maker.userId === taker.userId) {
          if (skipOwn) continue;
          return false;
        }
        needed -= maker.remaining;
        if (needed <= 0) return true;
      }
    }
    return false;
  }

  /** Whether a limit at `price` on the order's side would take liquidity. */
  private crosses(order: Order, price: number): boolean {
    const book = isSell(order.flags) ? this.bids : this.asks;
    return book.front !== undefined && book.reaches(book.front.price, price);
  }

  private stopsOf(flags: number): PriceLadder {
    return isSell(flags) ? this.sellStops : this.buyStops;
  }

  private cancelOpen(order: Order, reason: CancelReason): void {
    order.level!.ladder.unlink(order);
    this.open.remove(order);
    this.pushCanceled(order, reason);
  }

  private finishCanceled(order: Order, isOpen: boolean, reason: CancelReason): void {
    if (isOpen) this.open.remove(order);
    this.pushCanceled(order, reason);
  }

  private pushCanceled(order: Order, reason: CancelReason): void {
    this.events.push({
      type: 'canceled',
      orderId: order.orderId,
      userId: order.userId,
      remaining: order.remaining,
      reason,
    });
  }

  private pushAmended(order: Order, priorityKept: boolean): void {
    this.events.push({
      type: 'amended',
      orderId: order.orderId,
      price: order.price,
      qty: order.qty,
      remaining: order.remaining,
      priorityKept,
    });
  }

  private *ordersOn(ladder: PriceLadder): Generator<OpenOrder> {
    for (const level of ladder.levels()) {
      for (let order = level.head; order !== undefined; order = order.next) yield order.toOpenOrder();
    }
  }
}

/** floor(budget / price), exact for any safe integers (a float quotient can round up across an integer). */
function lotsAffordable(budget: number, price: number): number {
  return Number(BigInt(budget) / BigInt(price));
}

function orderFrom(o: OpenOrder): Order {
  const flags = packFlags(o.side, o.type, o.tif, o.postOnly, o.stp);
  return new Order(
    o.orderId,
    o.userId,
    o.clientOrderId,
    flags,
    o.price ?? 0,
    o.stopPrice ?? 0,
    o.qty,
    o.remaining,
  );
}
