import type {
  AmendCommand,
  BookCommand,
  BookConfig,
  BookEvent,
  BookSnapshot,
  CancelAllCommand,
  CancelCommand,
  CancelReason,
  LevelEvent,
  MatchingEngine,
  OpenOrder,
  OrderRef,
  PlaceCommand,
  PlaceOcoCommand,
  RejectCode,
  Side,
  TriggerGate,
} from '../../src/actors/book/types.ts';
import { isBadOco, isBadPlacement, isPositiveSafeInteger, isStopType } from './placementRules.ts';

/**
 * A deliberately slow, obviously correct model of the spec in src/actors/book/types.ts.
 *
 * Everything is a linear scan over two arrays kept in arrival order, so priority is literally
 * "best price, then earliest in the array" (a stable sort does the rest). Level events come from
 * diffing all level totals before and after the command rather than from tracking changes.
 * Nothing here is shared with the engine: disagreements must come from reading the spec differently.
 */

/** An open order as the reference holds it. */
type Order = { -readonly [K in keyof OpenOrder]: OpenOrder[K] };

/** Whether the taker is still open after matching, or finished (filled or canceled by STP). */
type MatchOutcome = 'open' | 'finished';

const opposite = (side: Side): Side => (side === 'buy' ? 'sell' : 'buy');

/** Sort key that puts the best price first: highest bid, lowest ask. */
const bestFirst = (side: Side) => (a: number, b: number) => (side === 'buy' ? b - a : a - b);

export class ReferenceBook implements MatchingEngine {
  lastPrice: number | null = null;
  triggerGate: TriggerGate | undefined = undefined;
  /** Resting orders in arrival order; a level's FIFO queue is this array filtered by side and price. */
  private resting: Order[] = [];
  /** Pending stops in arrival order. */
  private stops: Order[] = [];
  /** Stops triggered during the current command, executed after the current order finishes. */
  private triggerQueue: Order[] = [];
  /** Trailing stops moved during the current command (their `trailed` events). */
  private moved = new Set<Order>();

  constructor(private readonly config: BookConfig) {
    if (!isPositiveSafeInteger(config.maxOrders) || !isPositiveSafeInteger(config.maxQty)) {
      throw new Error(`bad BookConfig: ${JSON.stringify(config)}`);
    }
    if (!Number.isSafeInteger(config.maxOrders * config.maxQty)) {
      throw new Error('bad BookConfig: maxOrders × maxQty must be a safe integer');
    }
  }

  static restore(snapshot: BookSnapshot): ReferenceBook {
    const book = new ReferenceBook({ ...snapshot.config });
    book.lastPrice = snapshot.lastPrice;
    // Snapshot order is level by level, FIFO within a level: relative arrival on each level survives.
    book.resting = snapshot.resting.map((order) => ({ ...order }));
    // Stops come in trigger priority per side; ties in stopPrice keep their arrival order.
    book.stops = snapshot.stops.map((order) => ({ ...order }));
    return book;
  }

  snapshot(): BookSnapshot {
    const { resting, stops } = this.openOrders();
    return { version: 1, config: { ...this.config }, lastPrice: this.lastPrice, resting, stops };
  }

  // ---- views ----

  bestBid(): number | undefined {
    return this.depth('buy', 0)[0]?.[0];
  }

  bestAsk(): number | undefined {
    return this.depth('sell', 0)[0]?.[0];
  }

  depth(side: Side, n: number): [number, number][] {
    const totals = new Map<number, number>();
    for (const order of this.resting) {
      if (order.side === side) totals.set(order.price!, (totals.get(order.price!) ?? 0) + shown(order));
    }
    const levels = [...totals].sort(([a], [b]) => bestFirst(side)(a, b));
    return n === 0 ? levels : levels.slice(0, n);
  }

  openOrders(): { resting: OpenOrder[]; stops: OpenOrder[] } {
    const resting = [...this.restingInPriority('buy'), ...this.restingInPriority('sell')];
    const stops = [...this.stopsInTriggerOrder('buy'), ...this.stopsInTriggerOrder('sell')];
    return { resting: resting.map((o) => ({ ...o })), stops: stops.map((o) => ({ ...o })) };
  }

  // ---- commands ----

  execute(command: BookCommand): BookEvent[] {
    const levelsBefore = this.levelTotals();
    const events: BookEvent[] = [];
    this.moved.clear();
    switch (command.kind) {
      case 'place':
        this.place(command, events);
        break;
      case 'cancel':
        this.cancel(command, events);
        break;
      case 'amend':
        this.amend(command, events);
        break;
      case 'cancel_all':
        this.cancelAll(command, events);
        break;
      case 'expire':
        this.expire(command.now, events);
        break;
      case 'place_oco':
        this.placeOco(command, events);
        break;
    }
    const trailed = [...this.moved]
      .filter((o) => this.stops.includes(o))
      .sort((a, b) => a.orderId - b.orderId)
      .map((o): BookEvent => ({
        type: 'trailed',
        orderId: o.orderId,
        stopPrice: o.stopPrice!,
        price: o.price,
      }));
    return [...events, ...trailed, ...levelChanges(levelsBefore, this.levelTotals())];
  }

  private place(command: PlaceCommand, events: BookEvent[]): void {
    const problem = this.placementProblem(command);
    if (problem !== undefined) {
      events.push(rejected('place', command.orderId, problem));
      return;
    }
    const trail = trailAt(command, this.lastPrice);
    events.push({
      type: 'accepted',
      orderId: command.orderId,
      userId: command.userId,
      clientOrderId: command.clientOrderId,
      side: command.side,
      orderType: command.type,
      tif: command.tif,
      qty: command.qty,
      price: trail?.price ?? command.price,
      stopPrice: trail?.stopPrice ?? command.stopPrice,
      quoteBudget: command.quoteBudget,
    });
    const order: Order = {
      orderId: command.orderId,
      userId: command.userId,
      clientOrderId: command.clientOrderId,
      side: command.side,
      type: command.type,
      tif: command.tif,
      postOnly: command.postOnly,
      stp: command.stp,
      price: trail?.price ?? command.price,
      stopPrice: trail?.stopPrice ?? command.stopPrice,
      qty: command.qty,
      remaining: command.qty,
      quoteBudget: command.quoteBudget,
      expireAt: command.expireAt,
      displayQty: command.displayQty,
      trailingOffset: command.trailingOffset,
      trailingBps: command.trailingBps,
      limitOffset: command.limitOffset,
      trailAnchor: trail === undefined ? undefined : this.lastPrice!,
    };
    if (!isStopType(order.type) && order.type !== 'trailing_stop') {
      this.executeOrder(order, command.quoteBudget, events);
    } else if (this.lastPrice !== null && stopConditionHolds(order, this.lastPrice)) {
      events.push({
        type: 'triggered',
        orderId: order.orderId,
        stopPrice: order.stopPrice!,
        lastPrice: this.lastPrice,
      });
      this.executeTriggered(order, events);
    } else {
      this.stops.push(order);
      events.push({ type: 'pending', orderId: order.orderId, side: order.side, stopPrice: order.stopPrice! });
    }
    this.runTriggerQueue(events);
  }

  /** OCO: both legs accepted, the stop leg waits (silently) while the limit leg executes, then its turn. */
  private placeOco(command: PlaceOcoCommand, events: BookEvent[]): void {
    const open = [...this.resting, ...this.stops];
    let problem: RejectCode | undefined;
    if (isBadOco(command, this.config)) problem = 'bad_request';
    else if (
      command.clientOrderId !== undefined &&
      open.some((o) => o.userId === command.userId && o.clientOrderId === command.clientOrderId)
    ) {
      problem = 'duplicate_client_order_id';
    } else if (open.length + 2 > this.config.maxOrders) problem = 'overloaded';
    if (problem !== undefined) {
      events.push(rejected('place_oco', command.orderId, problem));
      return;
    }
    const { userId, side, qty, stp } = command;
    const stopType = command.stopLimitPrice === undefined ? 'stop_market' : 'stop_limit';
    const common = { userId, side, tif: 'GTC' as const, postOnly: false, stp, qty, remaining: qty };
    const limit: Order = {
      ...common,
      orderId: command.orderId,
      clientOrderId: command.clientOrderId,
      type: 'limit',
      price: command.price,
      listId: command.orderId,
    };
    const stop: Order = {
      ...common,
      orderId: command.stopOrderId,
      type: stopType,
      price: command.stopLimitPrice,
      stopPrice: command.stopPrice,
      listId: command.orderId,
    };
    for (const leg of [limit, stop]) {
      events.push({
        type: 'accepted',
        orderId: leg.orderId,
        userId,
        clientOrderId: leg.clientOrderId,
        side,
        orderType: leg.type,
        tif: 'GTC',
        qty,
        price: leg.price,
        stopPrice: leg.stopPrice,
        quoteBudget: undefined,
      });
    }
    this.stops.push(stop);
    this.executeOrder(limit, undefined, events);
    if (stop.listId !== undefined) {
      if (this.lastPrice !== null && stopConditionHolds(stop, this.lastPrice)) {
        this.removeOpenOrder(stop);
        events.push({
          type: 'triggered',
          orderId: stop.orderId,
          stopPrice: stop.stopPrice!,
          lastPrice: this.lastPrice,
        });
        this.breakLink(stop, events);
        this.executeTriggered(stop, events);
      } else {
        events.push({ type: 'pending', orderId: stop.orderId, side, stopPrice: stop.stopPrice! });
      }
    }
    this.runTriggerQueue(events);
  }

  /** An OCO leg filled, was decremented, triggered or ended: its partner, if linked, is canceled `oco`. */
  private breakLink(order: Order, events: BookEvent[]): void {
    const { listId } = order;
    if (listId === undefined) return;
    order.listId = undefined;
    const partner = [...this.resting, ...this.stops].find((o) => o.listId === listId);
    if (partner === undefined) return;
    partner.listId = undefined;
    this.removeOpenOrder(partner);
    events.push(canceled(partner, 'oco'));
  }

  /** Pushes a `canceled` event for an order, then cancels its OCO partner if it has one. */
  private cancelWith(order: Order, reason: CancelReason, events: BookEvent[]): void {
    events.push(canceled(order, reason));
    this.breakLink(order, events);
  }

  /** Placement rejections, in the order the spec lists them. */
  private placementProblem(command: PlaceCommand): RejectCode | undefined {
    if (isBadPlacement(command, this.config)) return 'bad_request';
    const open = [...this.resting, ...this.stops];
    const sameClientId = (o: Order) =>
      o.userId === command.userId && o.clientOrderId === command.clientOrderId;
    if (command.clientOrderId !== undefined && open.some(sameClientId)) return 'duplicate_client_order_id';
    if (open.length >= this.config.maxOrders) return 'overloaded';
    if (command.type === 'limit' && command.postOnly && this.crossesOpposite(command.side, command.price!)) {
      return 'would_match';
    }
    const stop =
      command.type === 'stop_limit' || command.type === 'stop_market' || command.type === 'trailing_stop';
    if (!stop && command.tif === 'FOK') {
      if (!this.canFillCompletely({ ...command, remaining: command.qty })) return 'fok_unfilled';
    }
    if (command.type === 'trailing_stop' && this.lastPrice === null) return 'bad_request';
    return undefined;
  }

  private cancel(command: CancelCommand, events: BookEvent[]): void {
    const target = this.findOpenOrder(command);
    if (typeof target === 'string') {
      events.push(rejected('cancel', command.orderId, target));
      return;
    }
    this.removeOpenOrder(target);
    this.cancelWith(target, 'user', events);
  }

  /** GTD: every open order whose expireAt has come, earliest first (ties: lower id first). */
  private expire(now: number, events: BookEvent[]): void {
    if (!Number.isSafeInteger(now) || now < 0) {
      events.push(rejected('expire', undefined, 'bad_request'));
      return;
    }
    const due = [...this.resting, ...this.stops].filter((o) => o.expireAt !== undefined && o.expireAt <= now);
    due.sort((a, b) => a.expireAt! - b.expireAt! || a.orderId - b.orderId);
    for (const order of due) {
      this.removeOpenOrder(order);
      this.cancelWith(order, 'expired', events);
    }
  }

  private cancelAll(command: CancelAllCommand, events: BookEvent[]): void {
    const mine = [...this.resting, ...this.stops].filter((o) => o.userId === command.userId);
    for (const order of mine.sort((a, b) => a.orderId - b.orderId)) {
      if (!this.resting.includes(order) && !this.stops.includes(order)) continue;
      this.removeOpenOrder(order);
      this.cancelWith(order, 'user', events);
    }
  }

  private amend(command: AmendCommand, events: BookEvent[]): void {
    const reject = (code: RejectCode): void => {
      events.push(rejected('amend', command.orderId, code));
    };
    const { qty, price } = command;
    const badQty = qty !== undefined && (!isPositiveSafeInteger(qty) || qty > this.config.maxQty);
    const badPrice = price !== undefined && !isPositiveSafeInteger(price);
    if ((qty === undefined && price === undefined) || badQty || badPrice) {
      reject('bad_request');
      return;
    }
    const order = this.findOpenOrder(command);
    if (typeof order === 'string') {
      reject(order);
      return;
    }
    const filled = order.qty - order.remaining;
    const newQty = qty ?? order.qty;
    const newPrice = price ?? order.price!;
    const tooManySlices = order.displayQty !== undefined && order.displayQty * 1000 < newQty;
    const ocoLeg = order.listId !== undefined;
    if (this.stops.includes(order) || ocoLeg || newQty <= filled || tooManySlices) {
      reject('bad_request');
      return;
    }

    if (newPrice === order.price && newQty <= order.qty) {
      order.qty = newQty;
      order.remaining = newQty - filled;
      // An iceberg keeps its slice unless the new remaining is smaller (hidden lots go first).
      if (order.shownQty !== undefined) order.shownQty = Math.min(order.shownQty, order.remaining);
      events.push(amended(order, true));
      return;
    }
    if (order.postOnly && this.crossesOpposite(order.side, newPrice)) {
      reject('would_match');
      return;
    }
    this.removeOpenOrder(order);
    order.price = newPrice;
    order.qty = newQty;
    order.remaining = newQty - filled;
    order.shownQty = undefined;
    events.push(amended(order, false));
    // Re-enters as an aggressive limit: resting orders are GTC or GTD, so tif needs no change.
    this.executeOrder(order, undefined, events);
    this.runTriggerQueue(events);
  }

  // ---- execution ----

  /**
   * Executes a taker: a fresh limit/market order, a triggered stop, or an amended order re-entering.
   * Post-only and FOK were already checked as rejections for fresh orders (with the same book, so the
   * checks here pass for them); for triggered stops they become cancellations.
   */
  private executeOrder(order: Order, quoteBudget: number | undefined, events: BookEvent[]): void {
    if (order.postOnly && this.crossesOpposite(order.side, order.price!)) {
      this.cancelWith(order, 'would_match', events);
      return;
    }
    if (order.tif === 'FOK' && !this.canFillCompletely({ ...order, quoteBudget })) {
      this.cancelWith(order, 'fok_unfilled', events);
      return;
    }
    if (this.match(order, quoteBudget, events) === 'finished') return;
    // A market order (or a triggered stop_market) has no price and never rests, whatever its tif.
    if (order.price !== undefined && (order.tif === 'GTC' || order.tif === 'GTD')) {
      if (order.displayQty !== undefined) order.shownQty = Math.min(order.displayQty, order.remaining);
      this.resting.push(order);
      events.push({
        type: 'rested',
        orderId: order.orderId,
        side: order.side,
        price: order.price,
        remaining: order.remaining,
      });
    } else {
      this.cancelWith(order, 'unfilled', events);
    }
  }

  private match(taker: Order, quoteBudget: number | undefined, events: BookEvent[]): MatchOutcome {
    let budget = quoteBudget === undefined ? undefined : BigInt(quoteBudget);
    while (taker.remaining > 0) {
      const maker = this.restingInPriority(opposite(taker.side))[0];
      if (maker === undefined) return 'open';
      const price = maker.price!;
      if (isWorseThanLimit(taker, price)) return 'open';
      const affordableLots = budget === undefined ? Infinity : Number(budget / BigInt(price));
      if (affordableLots < 1) return 'open';

      if (maker.userId === taker.userId && taker.stp === 'decrement') {
        if (this.decrementBoth(taker, maker, events) === 'finished') return 'finished';
        continue;
      }
      if (maker.userId === taker.userId) {
        if (taker.stp === 'cancel_maker' || taker.stp === 'cancel_both') {
          this.removeOpenOrder(maker);
          this.cancelWith(maker, 'self_trade', events);
        }
        if (taker.stp === 'cancel_taker' || taker.stp === 'cancel_both') {
          this.cancelWith(taker, 'self_trade', events);
          return 'finished';
        }
        continue;
      }

      const qty = Math.min(taker.remaining, shown(maker), affordableLots);
      if (budget !== undefined) budget -= BigInt(price) * BigInt(qty);
      taker.remaining -= qty;
      this.takeFromMaker(maker, qty);
      events.push({
        type: 'fill',
        takerOrderId: taker.orderId,
        takerUserId: taker.userId,
        makerOrderId: maker.orderId,
        makerUserId: maker.userId,
        takerSide: taker.side,
        price,
        qty,
        takerRemaining: taker.remaining,
        makerRemaining: maker.remaining,
      });
      this.breakLink(maker, events);
      this.breakLink(taker, events);
      this.lastPrice = price;
      this.triggerStopsAt(price, events);
      this.trailAt(price);
    }
    return 'finished';
  }

  /**
   * A maker loses `qty` of what it shows: gone when that was all it had; an iceberg whose slice is
   * used up shows the next one at the back of its level (the end of the arrival-order array).
   */
  private takeFromMaker(maker: Order, qty: number): void {
    maker.remaining -= qty;
    if (maker.remaining === 0) {
      this.removeOpenOrder(maker);
      return;
    }
    if (maker.shownQty === undefined) return;
    maker.shownQty -= qty;
    if (maker.shownQty > 0) return;
    maker.shownQty = Math.min(maker.displayQty!, maker.remaining);
    this.removeOpenOrder(maker);
    this.resting.push(maker);
  }

  /**
   * STP decrement: both lose the smaller of the taker's remaining and what the maker shows, maker
   * first; an order left with none is canceled.
   */
  private decrementBoth(taker: Order, maker: Order, events: BookEvent[]): MatchOutcome {
    const d = Math.min(taker.remaining, shown(maker));
    const takerDone = taker.remaining === d;
    for (const order of [maker, taker]) {
      if (order.remaining === d) {
        if (order === maker) this.removeOpenOrder(maker);
        this.cancelWith(order, 'self_trade', events);
        continue;
      }
      order.qty -= d;
      if (order === maker) this.takeFromMaker(maker, d);
      else order.remaining -= d;
      const { orderId, userId, remaining } = order;
      events.push({ type: 'decremented', orderId, userId, qty: d, remaining });
      this.breakLink(order, events);
    }
    return takerDone ? 'finished' : 'open';
  }

  /**
   * FOK walk: same-user makers are skipped under cancel_maker and end the walk otherwise. With a
   * budget, a maker adds only the lots the budget left affords, and a budget that cannot buy one
   * lot at the next maker's price ends the walk: complete only for a budget-only order (its qty is
   * the book's maxQty), whose whole budget is then spent up to lot rounding.
   */
  private canFillCompletely(
    taker: Pick<Order, 'side' | 'price' | 'userId' | 'stp' | 'remaining' | 'quoteBudget'>,
  ): boolean {
    let available = 0;
    let budget = taker.quoteBudget === undefined ? undefined : BigInt(taker.quoteBudget);
    let lastTaken: number | undefined;
    for (const [maker, slice] of this.slicesInMatchOrder(opposite(taker.side))) {
      if (isWorseThanLimit(taker, maker.price!)) break;
      const affordable = budget === undefined ? Infinity : Number(budget / BigInt(maker.price!));
      if (affordable < 1) return taker.remaining === this.config.maxQty;
      if (maker.userId === taker.userId) {
        if (taker.stp === 'cancel_maker') continue;
        break;
      }
      const lots = Math.min(slice, affordable, taker.remaining - available);
      const spentHere = affordable < slice && affordable < taker.remaining - available;
      if (spentHere) return taker.remaining === this.config.maxQty;
      available += lots;
      if (budget !== undefined) budget -= BigInt(lots) * BigInt(maker.price!);
      if (available >= taker.remaining) return true;
      lastTaken = maker.price!;
    }
    // No maker left: the budget counts as spent when it cannot buy a lot at the last price taken.
    const spent = budget !== undefined && lastTaken !== undefined && budget < BigInt(lastTaken);
    return spent && taker.remaining === this.config.maxQty;
  }

  /**
   * Buys trigger before sells. Both can only trigger on the same fill when stops were placed before
   * any trade (no last price); the spec does not say which side goes first there. A fixed side order
   * survives a snapshot, which keeps arrival order within a side only, so arrival across sides cannot
   * be the rule.
   */
  private triggerStopsAt(price: number, events: BookEvent[]): void {
    const buys = this.stops.filter((s) => s.side === 'buy' && s.stopPrice! <= price);
    const sells = this.stops.filter((s) => s.side === 'sell' && s.stopPrice! >= price);
    buys.sort((a, b) => a.stopPrice! - b.stopPrice!);
    sells.sort((a, b) => b.stopPrice! - a.stopPrice!);
    for (const stop of [...buys, ...sells]) {
      this.removeOpenOrder(stop);
      events.push({ type: 'triggered', orderId: stop.orderId, stopPrice: stop.stopPrice!, lastPrice: price });
      this.breakLink(stop, events);
      this.triggerQueue.push(stop);
    }
  }

  /**
   * A fill at `price` moves the pending trailing stops it betters (buys anchored above it, sells
   * below it): each takes the anchor, its new stop (and limit) and goes to the back of the stops'
   * arrival order, those of one fill by orderId.
   */
  private trailAt(price: number): void {
    const moving = this.stops
      .filter((o) => o.type === 'trailing_stop')
      .filter((o) => (o.side === 'buy' ? o.trailAnchor! > price : o.trailAnchor! < price))
      .sort((a, b) => a.orderId - b.orderId);
    for (const order of moving) {
      const moved = trailAt(order, price)!;
      order.trailAnchor = price;
      order.stopPrice = moved.stopPrice;
      if (order.limitOffset !== undefined) order.price = moved.price;
      this.stops = [...this.stops.filter((o) => o !== order), order];
      this.moved.add(order);
    }
  }

  private runTriggerQueue(events: BookEvent[]): void {
    for (let next = this.triggerQueue.shift(); next !== undefined; next = this.triggerQueue.shift()) {
      this.executeTriggered(next, events);
    }
  }

  /** A triggered stop: the gate first (refused: canceled `compliance`), then it executes. */
  private executeTriggered(stop: Order, events: BookEvent[]): void {
    if (this.triggerGate !== undefined && !this.triggerGate(stop.userId, stop.orderId)) {
      this.cancelWith(stop, 'compliance', events);
      return;
    }
    // The stop's own price/tif/postOnly/stp decide; a stop_market has no price, so it runs as market
    // (a stop_market buy spending the budget it was placed with).
    this.executeOrder(stop, stop.quoteBudget, events);
  }

  // ---- helpers over the two arrays ----

  private restingInPriority(side: Side): Order[] {
    // Array.prototype.sort is stable, so orders on one level stay in arrival order.
    return this.resting.filter((o) => o.side === side).sort((a, b) => bestFirst(side)(a.price!, b.price!));
  }

  /**
   * What a taker meets on `side`, in order, without changing anything: each level's queue is run
   * as matching runs it, an iceberg's used-up slice bringing its next one to the back of the queue.
   */
  private slicesInMatchOrder(side: Side): [Order, number][] {
    const out: [Order, number][] = [];
    const prices = [...new Set(this.restingInPriority(side).map((o) => o.price!))];
    for (const price of prices) {
      const queue = this.restingInPriority(side)
        .filter((o) => o.price === price)
        .map((o) => ({ order: o, shown: shown(o), left: o.remaining }));
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
        out.push([next.order, next.shown]);
        next.left -= next.shown;
        if (next.left > 0) queue.push({ ...next, shown: Math.min(next.order.displayQty!, next.left) });
      }
    }
    return out;
  }

  private stopsInTriggerOrder(side: Side): Order[] {
    const ascending = side === 'buy';
    return this.stops
      .filter((o) => o.side === side)
      .sort((a, b) => (ascending ? a.stopPrice! - b.stopPrice! : b.stopPrice! - a.stopPrice!));
  }

  private crossesOpposite(side: Side, price: number): boolean {
    const best = side === 'buy' ? this.bestAsk() : this.bestBid();
    if (best === undefined) return false;
    return side === 'buy' ? price >= best : price <= best;
  }

  /** By orderId when given (clientOrderId then ignored), else by the user's clientOrderId. */
  private findOpenOrder(ref: OrderRef): Order | 'bad_request' | 'not_found' {
    if (ref.orderId === undefined && ref.clientOrderId === undefined) return 'bad_request';
    const mine = [...this.resting, ...this.stops].filter((o) => o.userId === ref.userId);
    const found =
      ref.orderId !== undefined
        ? mine.find((o) => o.orderId === ref.orderId)
        : mine.find((o) => o.clientOrderId === ref.clientOrderId);
    return found ?? 'not_found';
  }

  private removeOpenOrder(order: Order): void {
    this.resting = this.resting.filter((o) => o !== order);
    this.stops = this.stops.filter((o) => o !== order);
  }

  private levelTotals(): LevelEvent[] {
    const levels = (side: Side) =>
      this.depth(side, 0).map(([price, qty]): LevelEvent => ({ type: 'level', side, price, qty }));
    return [...levels('buy'), ...levels('sell')];
  }
}

/**
 * A trailing stop's stopPrice and limit price at `anchor` (types.ts, Trailing stops); undefined for
 * other orders or without an anchor.
 */
function trailAt(
  order: Pick<Order, 'type' | 'side' | 'trailingOffset' | 'trailingBps' | 'limitOffset'>,
  anchor: number | null,
): { stopPrice: number; price: number | undefined } | undefined {
  if (order.type !== 'trailing_stop' || anchor === null) return undefined;
  const bpsDistance =
    order.trailingBps === undefined
      ? undefined
      : Math.max(1, Number((BigInt(anchor) * BigInt(order.trailingBps)) / 10_000n));
  const distance = order.trailingOffset ?? bpsDistance!;
  const buy = order.side === 'buy';
  const stopPrice = buy ? anchor + distance : Math.max(1, anchor - distance);
  const { limitOffset } = order;
  const price =
    limitOffset === undefined
      ? undefined
      : buy
        ? stopPrice + limitOffset
        : Math.max(1, stopPrice - limitOffset);
  return { stopPrice, price };
}

/** What an order shows on its level: a resting iceberg its slice, any other its whole remaining. */
function shown(order: Order): number {
  return order.shownQty ?? order.remaining;
}

function stopConditionHolds(stop: Order, lastPrice: number): boolean {
  return stop.side === 'buy' ? lastPrice >= stop.stopPrice! : lastPrice <= stop.stopPrice!;
}

/** A market taker (no price) accepts any maker price. */
function isWorseThanLimit(taker: Pick<Order, 'side' | 'price'>, makerPrice: number): boolean {
  if (taker.price === undefined) return false;
  return taker.side === 'buy' ? makerPrice > taker.price : makerPrice < taker.price;
}

/** One event per level whose total changed, buys (price descending) then sells (price ascending). */
function levelChanges(before: LevelEvent[], after: LevelEvent[]): LevelEvent[] {
  const key = (level: LevelEvent) => `${level.side}:${level.price}`;
  const totalIn = (levels: LevelEvent[], k: string) => levels.find((l) => key(l) === k)?.qty ?? 0;
  const candidates = [...before, ...after].filter(
    (l, i, all) => all.findIndex((m) => key(m) === key(l)) === i,
  );
  const changed = candidates
    .filter((l) => totalIn(before, key(l)) !== totalIn(after, key(l)))
    .map((l): LevelEvent => ({ type: 'level', side: l.side, price: l.price, qty: totalIn(after, key(l)) }));
  const buys = changed.filter((l) => l.side === 'buy').sort((a, b) => b.price - a.price);
  const sells = changed.filter((l) => l.side === 'sell').sort((a, b) => a.price - b.price);
  return [...buys, ...sells];
}

function rejected(command: BookCommand['kind'], orderId: number | undefined, code: RejectCode): BookEvent {
  return { type: 'rejected', command, orderId, code, message: `${command} rejected: ${code}` };
}

function canceled(order: Order, reason: CancelReason): BookEvent {
  return {
    type: 'canceled',
    orderId: order.orderId,
    userId: order.userId,
    remaining: order.remaining,
    reason,
  };
}

function amended(order: Order, priorityKept: boolean): BookEvent {
  return {
    type: 'amended',
    orderId: order.orderId,
    price: order.price!,
    qty: order.qty,
    remaining: order.remaining,
    priorityKept,
  };
}
