// Over ~400 lines as one concept: the matching engine. Every command mutates one state (order store,
// ladders, stop ladders, event buffer) under the book's rules; the parts that stand alone (store,
// ladders, level changes, flags, validation, expiries) are already files of their own beside it.
import { Expiries } from './expiries.ts';
import {
  HAS_SPARSE,
  SPARSE_ICEBERG,
  SPARSE_LINK,
  isMarketLike,
  isPostOnly,
  isSell,
  isStop,
  isTrailing,
  packFlags,
  rests,
  sideOf,
  stpOf,
  tifOf,
} from './flags.ts';
import { LevelChanges } from './levelChanges.ts';
import { OpenOrders } from './openOrders.ts';
import { NONE, OrderStore, type Trail } from './orderStore.ts';
import { TrailGroups, trailLimit, trailStop } from './trails.ts';
import { LevelTable, PriceLadder } from './priceLadder.ts';
import {
  amendProblem,
  checkConfig,
  MAX_ICEBERG_SLICES,
  ocoProblem,
  placeProblem,
  refProblem,
} from './validate.ts';
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
  OrderRef,
  PlaceCommand,
  PlaceOcoCommand,
  RejectCode,
  Side,
  TriggerGate,
} from './types.ts';

/**
 * A market's order book and matching engine: pure, synchronous, integer-only. Every command returns
 * the events it caused (see types.ts for the rules). Owned by exactly one market actor.
 *
 * Orders live in an OrderStore and are handled by slot number; `s` below is always that store.
 */
export class OrderBook implements MatchingEngine {
  lastPrice: number | null = null;
  /** Set by the owner; not part of the state (snapshots do not carry it). */
  triggerGate: TriggerGate | undefined = undefined;
  private readonly store: OrderStore;
  private readonly changes = new LevelChanges();
  private readonly bids: PriceLadder;
  private readonly asks: PriceLadder;
  private readonly buyStops: PriceLadder;
  private readonly sellStops: PriceLadder;
  private readonly open: OpenOrders;
  private readonly levels = new LevelTable();
  private readonly expiries = new Expiries();
  /** Pending trailing stops by anchor, per side. */
  private readonly buyTrails = new TrailGroups(true);
  private readonly sellTrails = new TrailGroups(false);
  /** Ids of trailing stops moved in this command (its `trailed` events, types.ts). */
  private readonly moved: number[] = [];
  /** The slots one fill moves (moveTrails), reused. */
  private readonly trailScratch: number[] = [];
  /** Slots of stops triggered in this command, executed in order once the current order is done. */
  private readonly triggered: number[] = [];
  private events: BookEvent[] = [];

  constructor(readonly config: BookConfig) {
    checkConfig(config);
    const store = (this.store = new OrderStore(config.maxOrders));
    const levels = this.levels;
    this.bids = new PriceLadder(-1, false, store, levels, this.changes);
    this.asks = new PriceLadder(1, true, store, levels, this.changes);
    this.buyStops = new PriceLadder(1, false, store, levels);
    this.sellStops = new PriceLadder(-1, true, store, levels);
    this.open = new OpenOrders(store);
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
      case 'expire':
        return this.expire(command.now);
      case 'place_oco':
        return this.placeOco(command);
    }
  }

  place(cmd: PlaceCommand): BookEvent[] {
    this.begin();
    const problem = placeProblem(cmd, this.config);
    if (problem !== undefined) return this.reject('place', cmd.orderId, 'bad_request', problem);
    if (
      cmd.clientOrderId !== undefined &&
      this.open.byClientId(cmd.userId, cmd.clientOrderId) !== undefined
    ) {
      const message = `clientOrderId ${cmd.clientOrderId} is already used by an open order`;
      return this.reject('place', cmd.orderId, 'duplicate_client_order_id', message);
    }
    if (this.open.size >= this.config.maxOrders) {
      return this.reject('place', cmd.orderId, 'overloaded', 'the book holds its maximum number of orders');
    }
    const trailing = cmd.type === 'trailing_stop';
    const flags = packFlags(
      cmd.side,
      cmd.type,
      cmd.tif,
      cmd.postOnly,
      cmd.stp,
      cmd.limitOffset !== undefined,
    );
    let price = cmd.price ?? 0;
    let stopPrice = cmd.stopPrice ?? 0;
    let trail: Trail | undefined;
    if (trailing) {
      if (this.lastPrice === null) {
        return this.reject(
          'place',
          cmd.orderId,
          'bad_request',
          'no last trade price for a trailing stop to trail',
        );
      }
      const bps = cmd.trailingBps !== undefined;
      const offset = cmd.trailingBps ?? cmd.trailingOffset!;
      trail = { offset, bps, limitOffset: cmd.limitOffset, anchor: this.lastPrice, active: false };
      stopPrice = trailStop(trail, cmd.side === 'buy');
      if (cmd.limitOffset !== undefined) price = trailLimit(stopPrice, cmd.limitOffset, cmd.side === 'buy');
    }
    if (!isStop(flags)) {
      if (cmd.postOnly && this.crosses(flags, price)) {
        return this.reject('place', cmd.orderId, 'would_match', 'a post-only order would take liquidity');
      }
      if (cmd.tif === 'FOK' && !this.canFillCompletely(flags, price, cmd.userId, cmd.qty, cmd.quoteBudget)) {
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
      price: trail?.limitOffset === undefined ? cmd.price : price,
      stopPrice: trailing ? stopPrice : cmd.stopPrice,
      quoteBudget: cmd.quoteBudget,
    });
    const slot = this.store.allocate(
      cmd.orderId,
      cmd.userId,
      cmd.clientOrderId,
      flags,
      price,
      stopPrice,
      cmd.qty,
      cmd.qty,
      // A market buy spends its budget at once (settle below); a stop keeps it until it triggers.
      isStop(flags) ? (cmd.quoteBudget ?? 0) : 0,
      cmd.expireAt ?? 0,
      cmd.displayQty ?? 0,
    );
    // Pushed whether or not it will rest: an entry whose order is gone by then is skipped.
    if (cmd.expireAt !== undefined) this.expiries.push(cmd.expireAt, cmd.orderId);
    if (trail !== undefined) {
      this.store.trail.set(slot, trail);
      this.store.flags[slot]! |= HAS_SPARSE;
    }
    if (!isStop(flags)) {
      this.settle(slot, false, cmd.quoteBudget);
    } else if (this.lastPrice !== null && this.stopsOf(flags).reaches(stopPrice, this.lastPrice)) {
      this.events.push({ type: 'triggered', orderId: cmd.orderId, stopPrice, lastPrice: this.lastPrice });
      this.activate(slot, false);
    } else {
      this.open.add(slot);
      this.stopsOf(flags).append(slot, stopPrice);
      if (trail !== undefined) this.trailsOf(flags).join(slot, trail);
      this.events.push({ type: 'pending', orderId: cmd.orderId, side: cmd.side, stopPrice });
    }
    this.drainTriggered();
    return this.end();
  }

  /** OCO (types.ts): the limit leg executes, then the stop leg waits or triggers, linked while both live. */
  placeOco(cmd: PlaceOcoCommand): BookEvent[] {
    this.begin();
    const problem = ocoProblem(cmd, this.config);
    if (problem !== undefined) return this.reject('place_oco', cmd.orderId, 'bad_request', problem);
    if (
      cmd.clientOrderId !== undefined &&
      this.open.byClientId(cmd.userId, cmd.clientOrderId) !== undefined
    ) {
      const message = `clientOrderId ${cmd.clientOrderId} is already used by an open order`;
      return this.reject('place_oco', cmd.orderId, 'duplicate_client_order_id', message);
    }
    if (this.open.size + 2 > this.config.maxOrders) {
      return this.reject('place_oco', cmd.orderId, 'overloaded', 'the book has no room for both legs');
    }
    const { orderId, stopOrderId, userId, side, qty, price, stopPrice, stopLimitPrice, stp } = cmd;
    const stopType = stopLimitPrice === undefined ? 'stop_market' : 'stop_limit';
    this.events.push(
      {
        type: 'accepted',
        orderId,
        userId,
        clientOrderId: cmd.clientOrderId,
        side,
        orderType: 'limit',
        tif: 'GTC',
        qty,
        price,
        stopPrice: undefined,
        quoteBudget: undefined,
      },
      {
        type: 'accepted',
        orderId: stopOrderId,
        userId,
        clientOrderId: undefined,
        side,
        orderType: stopType,
        tif: 'GTC',
        qty,
        price: stopLimitPrice,
        stopPrice,
        quoteBudget: undefined,
      },
    );
    const s = this.store;
    const limitFlags = packFlags(side, 'limit', 'GTC', false, stp, false) | HAS_SPARSE | SPARSE_LINK;
    const stopFlags = packFlags(side, stopType, 'GTC', false, stp, false) | HAS_SPARSE | SPARSE_LINK;
    const limit = s.allocate(orderId, userId, cmd.clientOrderId, limitFlags, price, 0, qty, qty, 0, 0);
    const stop = s.allocate(
      stopOrderId,
      userId,
      undefined,
      stopFlags,
      stopLimitPrice ?? 0,
      stopPrice,
      qty,
      qty,
      0,
      0,
    );
    s.link.set(limit, { partner: stop, listId: orderId });
    s.link.set(stop, { partner: limit, listId: orderId });
    const stops = this.stopsOf(stopFlags);
    this.open.add(stop);
    stops.append(stop, stopPrice);
    this.settle(limit, false, undefined);
    // Still linked: the limit leg rests untouched, and the stop leg waits or triggers now.
    if (s.link.has(stop)) {
      if (this.lastPrice !== null && stops.reaches(stopPrice, this.lastPrice)) {
        stops.unlink(stop);
        this.events.push({ type: 'triggered', orderId: stopOrderId, stopPrice, lastPrice: this.lastPrice });
        this.breakLink(stop);
        this.activate(stop, true);
      } else {
        this.events.push({ type: 'pending', orderId: stopOrderId, side, stopPrice });
      }
    }
    this.drainTriggered();
    return this.end();
  }

  /** A linked OCO leg filled, was decremented, triggered or ended: its partner is canceled (`oco`). */
  private breakLink(slot: number): void {
    const s = this.store;
    if ((s.flags[slot]! & SPARSE_LINK) === 0) return;
    const link = s.link.get(slot)!;
    s.link.delete(slot);
    s.link.delete(link.partner);
    s.flags[slot]! &= ~SPARSE_LINK;
    s.flags[link.partner]! &= ~SPARSE_LINK;
    this.cancelOpen(link.partner, 'oco');
  }

  cancel(cmd: CancelCommand): BookEvent[] {
    this.begin();
    const problem = refProblem(cmd);
    if (problem !== undefined) return this.reject('cancel', cmd.orderId, 'bad_request', problem);
    const slot = this.open.find(cmd);
    if (slot === undefined) return this.reject('cancel', cmd.orderId, 'not_found', 'no such open order');
    this.cancelOpen(slot, 'user');
    return this.end();
  }

  cancelAll(userId: string): BookEvent[] {
    this.begin();
    const s = this.store;
    const ids = this.open.ofUser(userId).map((slot) => s.orderId[slot]!);
    for (const id of ids.sort((a, b) => a - b)) {
      // An OCO leg is gone already when its partner went first.
      const slot = this.open.slotOf(id);
      if (slot !== undefined) this.cancelOpen(slot, 'user');
    }
    return this.end();
  }

  /** Cancels (reason `expired`) every open GTD order due at `now`, earliest first (types.ts). */
  expire(now: number): BookEvent[] {
    this.begin();
    if (!Number.isSafeInteger(now) || now < 0) {
      return this.reject('expire', undefined, 'bad_request', 'now must be a non-negative whole number');
    }
    for (let slot = this.nextDue(); slot !== undefined; slot = this.nextDue()) {
      // The heap's entry of an open order holds its expireAt (it never changes): no Map lookup.
      if (this.expiries.nextAt! > now) break;
      this.expiries.pop();
      this.cancelOpen(slot, 'expired');
    }
    return this.end();
  }

  /** The earliest expireAt among open GTD orders; undefined when there is none. */
  nextExpiry(): number | undefined {
    const slot = this.nextDue();
    return slot === undefined ? undefined : this.store.expireAt.get(slot);
  }

  /** The open order at the top of the expiry heap, after dropping entries of orders that ended. */
  private nextDue(): number | undefined {
    const { expiries } = this;
    for (let id = expiries.nextId; id !== undefined; id = expiries.nextId) {
      const slot = this.open.slotOf(id);
      if (slot !== undefined) return slot;
      expiries.pop();
    }
    return undefined;
  }

  amend(cmd: AmendCommand): BookEvent[] {
    this.begin();
    const problem = amendProblem(cmd, this.config);
    if (problem !== undefined) return this.reject('amend', cmd.orderId, 'bad_request', problem);
    const slot = this.open.find(cmd);
    if (slot === undefined) return this.reject('amend', cmd.orderId, 'not_found', 'no such open order');
    const s = this.store;
    const flags = s.flags[slot]!;
    const book = this.ladderOf(slot);
    if (book !== this.bids && book !== this.asks) {
      return this.reject('amend', cmd.orderId, 'bad_request', 'a pending stop order cannot be amended');
    }
    if ((flags & SPARSE_LINK) !== 0) {
      return this.reject('amend', cmd.orderId, 'bad_request', 'an OCO leg cannot be amended');
    }
    const filled = s.qty[slot]! - s.remainingOf(slot);
    const qty = cmd.qty ?? s.qty[slot]!;
    const price = cmd.price ?? s.price[slot]!;
    if (qty <= filled) {
      return this.reject('amend', cmd.orderId, 'bad_request', `qty must exceed the filled ${filled} lots`);
    }
    const display = (flags & SPARSE_ICEBERG) === 0 ? undefined : s.display.get(slot);
    if (display !== undefined && display * MAX_ICEBERG_SLICES < qty) {
      return this.reject(
        'amend',
        cmd.orderId,
        'bad_request',
        `an iceberg's qty is at most ${MAX_ICEBERG_SLICES} slices`,
      );
    }
    if (price === s.price[slot] && qty <= s.qty[slot]!) {
      const hidden = s.hidden.get(slot);
      if (hidden === undefined) {
        if (qty < s.qty[slot]!) book.reduce(slot, s.qty[slot]! - qty);
      } else {
        // An iceberg gives up hidden lots first: its slice shrinks only below the new remaining.
        const remaining = qty - filled;
        const shown = Math.min(s.remaining[slot]!, remaining);
        if (shown < s.remaining[slot]!) book.reduce(slot, s.remaining[slot]! - shown);
        s.hidden.set(slot, remaining - shown);
      }
      s.qty[slot] = qty;
      this.pushAmended(slot, true);
      return this.end();
    }
    if (isPostOnly(flags) && this.crosses(flags, price)) {
      return this.reject('amend', cmd.orderId, 'would_match', 'a post-only order would take liquidity');
    }
    book.unlink(slot);
    if ((flags & SPARSE_ICEBERG) !== 0) s.hidden.delete(slot);
    s.price[slot] = price;
    s.qty[slot] = qty;
    s.remaining[slot] = qty - filled;
    this.pushAmended(slot, false);
    this.settle(slot, true, undefined);
    this.drainTriggered();
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

  /**
   * Starts a batch of commands (the market actor's mailbox batch, or a journal record replayed):
   * endBatch() then says whether the batch changed the book, i.e. left some level's total different
   * from before it. Costs one comparison per level noted while a batch is open.
   */
  beginBatch(): void {
    this.changes.beginBatch();
  }

  /** True when the batch begun by beginBatch() changed some level's total (net); ends the batch. */
  endBatch(): boolean {
    return this.changes.endBatch();
  }

  /** The user's order named as findOrder does, when it rests on a level (not a pending stop). */
  restingOrder(ref: OrderRef): OpenOrder | undefined {
    const slot = this.open.find(ref);
    if (slot === undefined) return undefined;
    const ladder = this.ladderOf(slot);
    return ladder === this.bids || ladder === this.asks ? this.store.toOpenOrder(slot) : undefined;
  }

  /** The user's open order named by id, or by clientOrderId when no id is given. */
  findOrder(ref: OrderRef): OpenOrder | undefined {
    const slot = this.open.find(ref);
    return slot === undefined ? undefined : this.store.toOpenOrder(slot);
  }

  /** Number of open orders (resting + pending stops). */
  get size(): number {
    return this.open.size;
  }

  snapshot(): BookSnapshot {
    return { version: 1, config: { ...this.config }, lastPrice: this.lastPrice, ...this.openOrders() };
  }

  static restore(snapshot: BookSnapshot): OrderBook {
    const book = new OrderBook(snapshot.config);
    book.lastPrice = snapshot.lastPrice;
    const s = book.store;
    const firstLegs = new Map<number, number>();
    const relink = (o: OpenOrder, slot: number): void => {
      if (o.listId === undefined) return;
      const other = firstLegs.get(o.listId);
      if (other === undefined) {
        firstLegs.set(o.listId, slot);
        return;
      }
      s.link.set(slot, { partner: other, listId: o.listId });
      s.link.set(other, { partner: slot, listId: o.listId });
      s.flags[slot]! |= HAS_SPARSE | SPARSE_LINK;
      s.flags[other]! |= HAS_SPARSE | SPARSE_LINK;
    };
    for (const o of snapshot.resting) {
      const slot = book.allocateFrom(o);
      relink(o, slot);
      (o.side === 'sell' ? book.asks : book.bids).append(slot, o.price ?? 0);
    }
    for (const o of snapshot.stops) {
      const slot = book.allocateFrom(o);
      relink(o, slot);
      const flags = book.store.flags[slot]!;
      book.stopsOf(flags).append(slot, o.stopPrice ?? 0);
      const trail = book.store.trail.get(slot);
      if (trail !== undefined) book.trailsOf(flags).join(slot, trail);
    }
    return book;
  }

  private allocateFrom(o: OpenOrder): number {
    const flags = packFlags(o.side, o.type, o.tif, o.postOnly, o.stp, o.limitOffset !== undefined);
    const s = this.store;
    const slot = s.allocate(
      o.orderId,
      o.userId,
      o.clientOrderId,
      flags,
      o.price ?? 0,
      o.stopPrice ?? 0,
      o.qty,
      o.remaining,
      o.quoteBudget ?? 0,
      o.expireAt ?? 0,
      o.displayQty ?? 0,
    );
    if (o.shownQty !== undefined) {
      s.remaining[slot] = o.shownQty;
      s.hidden.set(slot, o.remaining - o.shownQty);
    }
    if (o.type === 'trailing_stop') {
      const bps = o.trailingBps !== undefined;
      const offset = o.trailingBps ?? o.trailingOffset!;
      s.trail.set(slot, { offset, bps, limitOffset: o.limitOffset, anchor: o.trailAnchor!, active: false });
      s.flags[slot]! |= HAS_SPARSE;
    }
    if (o.expireAt !== undefined) this.expiries.push(o.expireAt, o.orderId);
    this.open.add(slot);
    return slot;
  }

  private begin(): void {
    this.events = [];
    this.changes.begin();
    if (this.moved.length !== 0) this.moved.length = 0;
  }

  private end(): BookEvent[] {
    if (this.moved.length !== 0) this.pushTrailed();
    this.changes.flush(this.events);
    return this.events;
  }

  /** One `trailed` event per trailing stop moved in this command and still pending, by orderId. */
  private pushTrailed(): void {
    const s = this.store;
    const ids = this.moved.sort((a, b) => a - b);
    for (let i = 0; i < ids.length; i++) {
      const orderId = ids[i]!;
      if (i > 0 && ids[i - 1] === orderId) continue;
      const slot = this.open.slotOf(orderId);
      if (slot === undefined || s.trail.get(slot)?.active !== true) continue;
      const stopPrice = s.stopPrice[slot]!;
      const price = isMarketLike(s.flags[slot]!) ? undefined : s.price[slot]!;
      this.events.push({ type: 'trailed', orderId, stopPrice, price });
    }
    ids.length = 0;
  }

  private trailsOf(flags: number): TrailGroups {
    return isSell(flags) ? this.sellTrails : this.buyTrails;
  }

  /** After a fill at `price`: pending trailing stops it moves in their favour rejoin their stop ladder. */
  private trail(price: number): void {
    if (this.buyTrails.movesAt(price)) this.moveTrails(this.buyTrails, this.buyStops, price);
    if (this.sellTrails.movesAt(price)) this.moveTrails(this.sellTrails, this.sellStops, price);
  }

  private moveTrails(groups: TrailGroups, stops: PriceLadder, price: number): void {
    const s = this.store;
    const slots = this.trailScratch;
    groups.moveBeyond(price, slots);
    if (slots.length > 1) slots.sort((a, b) => s.orderId[a]! - s.orderId[b]!);
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i]!;
      const trail = s.trail.get(slot)!;
      trail.anchor = price;
      const stopPrice = trailStop(trail, groups.buys);
      stops.unlink(slot);
      s.stopPrice[slot] = stopPrice;
      if (trail.limitOffset !== undefined)
        s.price[slot] = trailLimit(stopPrice, trail.limitOffset, groups.buys);
      stops.append(slot, stopPrice);
      this.moved.push(s.orderId[slot]!);
    }
    slots.length = 0;
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

  private drainTriggered(): void {
    if (this.triggered.length === 0) return;
    // The queue grows while it runs: fills of triggered orders trigger further stops.
    const triggered = this.triggered;
    for (let i = 0; i < triggered.length; i++) this.activate(triggered[i]!, true);
    triggered.length = 0;
  }

  /** Executes a triggered stop as the limit or market order it becomes (a stop_market buy with its budget). */
  private activate(slot: number, isOpen: boolean): void {
    const s = this.store;
    const flags = s.flags[slot]!;
    const budget = s.budget.get(slot);
    if (this.triggerGate !== undefined && !this.triggerGate(s.userId[slot]!, s.orderId[slot]!)) {
      this.finish(slot, isOpen, 'compliance');
    } else if (isPostOnly(flags) && this.crosses(flags, s.price[slot]!)) {
      this.finish(slot, isOpen, 'would_match');
    } else if (
      tifOf(flags) === 'FOK' &&
      !this.canFillCompletely(flags, s.price[slot]!, s.userId[slot]!, s.remaining[slot]!, budget)
    ) {
      this.finish(slot, isOpen, 'fok_unfilled');
    } else {
      this.settle(slot, isOpen, budget);
    }
  }

  /**
   * Lets an order take liquidity, then rests what is left (GTC limits) or cancels it. `isOpen` says
   * whether the order is already among the open orders (a triggered stop, an amended order).
   */
  private settle(slot: number, isOpen: boolean, quoteBudget: number | undefined): void {
    const s = this.store;
    const flags = s.flags[slot]!;
    if (this.match(slot, quoteBudget)) {
      this.finish(slot, isOpen, undefined);
    } else if (s.remaining[slot] === 0) {
      this.finish(slot, isOpen, undefined);
    } else if (isMarketLike(flags) || !rests(flags)) {
      this.finish(slot, isOpen, 'unfilled');
    } else {
      if (!isOpen) this.open.add(slot);
      const price = s.price[slot]!;
      const remaining = s.remaining[slot]!;
      if ((flags & SPARSE_ICEBERG) !== 0) this.hide(slot);
      (isSell(flags) ? this.asks : this.bids).append(slot, price);
      this.events.push({ type: 'rested', orderId: s.orderId[slot]!, side: sideOf(flags), price, remaining });
    }
  }

  /** An iceberg about to rest shows its first slice and hides the rest (no-op for other orders). */
  private hide(slot: number): void {
    const s = this.store;
    const display = s.display.get(slot);
    if (display === undefined) return;
    const remaining = s.remaining[slot]!;
    const shown = display < remaining ? display : remaining;
    s.remaining[slot] = shown;
    s.hidden.set(slot, remaining - shown);
  }

  /** A resting iceberg's hidden lots (0 for any other order). */
  private hiddenOf(slot: number): number {
    return (this.store.flags[slot]! & SPARSE_ICEBERG) === 0 ? 0 : (this.store.hidden.get(slot) ?? 0);
  }

  /** An iceberg whose shown slice is used up shows its next one at the back of its level. */
  private refill(book: PriceLadder, slot: number, hidden: number): void {
    const display = this.store.display.get(slot)!;
    const shown = display < hidden ? display : hidden;
    this.store.hidden.set(slot, hidden - shown);
    book.requeue(slot, shown);
  }

  /** Matches the taker against the opposite side; true when self-trade prevention canceled it. */
  private match(taker: number, quoteBudget: number | undefined): boolean {
    const s = this.store;
    const flags = s.flags[taker]!;
    const book = isSell(flags) ? this.bids : this.asks;
    const anyPrice = isMarketLike(flags);
    const limit = s.price[taker]!;
    const takerUser = s.userId[taker]!;
    let budget = quoteBudget;
    while (s.remaining[taker]! > 0) {
      const level = book.front;
      if (level === undefined) break;
      const price = level.price;
      if (!anyPrice && !book.reaches(price, limit)) break;
      let qty = s.remaining[taker]!;
      if (budget !== undefined) {
        const affordable = lotsAffordable(budget, price);
        if (affordable === 0) break;
        if (affordable < qty) qty = affordable;
      }
      const maker = level.head;
      if (s.userId[maker] === takerUser) {
        const stp = stpOf(flags);
        if (stp === 'decrement') {
          if (this.decrement(book, taker, maker)) return true;
          continue;
        }
        if (stp !== 'cancel_taker') this.cancelOpen(maker, 'self_trade');
        if (stp === 'cancel_maker') continue;
        this.pushCanceled(taker, 'self_trade');
        return true;
      }
      const makerRemaining = s.remaining[maker]!;
      if (makerRemaining < qty) qty = makerRemaining;
      const hidden = this.hiddenOf(maker);
      book.reduce(maker, qty);
      s.remaining[taker]! -= qty;
      if (budget !== undefined) budget -= qty * price;
      this.events.push({
        type: 'fill',
        takerOrderId: s.orderId[taker]!,
        takerUserId: takerUser,
        makerOrderId: s.orderId[maker]!,
        makerUserId: s.userId[maker]!,
        takerSide: sideOf(flags),
        price,
        qty,
        takerRemaining: s.remaining[taker]!,
        makerRemaining: makerRemaining - qty + hidden,
      });
      if ((s.flags[maker]! & SPARSE_LINK) !== 0) this.breakLink(maker);
      if ((s.flags[taker]! & SPARSE_LINK) !== 0) this.breakLink(taker);
      if (makerRemaining === qty) {
        if (hidden > 0) {
          this.refill(book, maker, hidden);
        } else {
          book.unlink(maker);
          this.open.remove(maker);
          s.release(maker);
        }
      }
      this.lastPrice = price;
      this.triggerStops(this.buyStops, price);
      this.triggerStops(this.sellStops, price);
      if (this.buyTrails.size + this.sellTrails.size !== 0) this.trail(price);
    }
    return false;
  }

  /**
   * STP decrement (types.ts): both reduced by the smaller remaining, maker first; true when the
   * taker has none left (it is canceled and done).
   */
  private decrement(book: PriceLadder, taker: number, maker: number): boolean {
    const s = this.store;
    const takerRemaining = s.remaining[taker]!;
    // An iceberg maker meets the taker with its shown slice.
    const makerRemaining = s.remaining[maker]!;
    const hidden = this.hiddenOf(maker);
    const d = takerRemaining < makerRemaining ? takerRemaining : makerRemaining;
    if (makerRemaining === d && hidden === 0) {
      this.cancelOpen(maker, 'self_trade');
    } else {
      book.reduce(maker, d);
      s.qty[maker]! -= d;
      if (makerRemaining === d) this.refill(book, maker, hidden);
      this.pushDecremented(maker, d);
      this.breakLink(maker);
    }
    if (takerRemaining === d) {
      this.pushCanceled(taker, 'self_trade');
      return true;
    }
    s.remaining[taker]! -= d;
    s.qty[taker]! -= d;
    this.pushDecremented(taker, d);
    this.breakLink(taker);
    return false;
  }

  private pushDecremented(slot: number, qty: number): void {
    const s = this.store;
    this.events.push({
      type: 'decremented',
      orderId: s.orderId[slot]!,
      userId: s.userId[slot]!,
      qty,
      remaining: s.remainingOf(slot),
    });
  }

  private triggerStops(stops: PriceLadder, lastPrice: number): void {
    let level = stops.front;
    while (level !== undefined && stops.reaches(level.price, lastPrice)) {
      const slot = level.head;
      stops.unlink(slot);
      const flags = this.store.flags[slot]!;
      if (isTrailing(flags)) this.trailsOf(flags).leave(slot, this.store.trail.get(slot)!);
      this.triggered.push(slot);
      const orderId = this.store.orderId[slot]!;
      this.events.push({ type: 'triggered', orderId, stopPrice: this.store.stopPrice[slot]!, lastPrice });
      if ((flags & SPARSE_LINK) !== 0) this.breakLink(slot);
      level = stops.front;
    }
  }

  /**
   * FOK feasibility: walks makers in priority order as matching would, without changing anything.
   * With a budget, each maker adds what the budget left affords of it (types.ts, FOK).
   */
  private canFillCompletely(
    flags: number,
    limit: number,
    userId: string,
    qty: number,
    quoteBudget: number | undefined,
  ): boolean {
    const s = this.store;
    const book = isSell(flags) ? this.bids : this.asks;
    const anyPrice = isMarketLike(flags);
    const skipOwn = stpOf(flags) === 'cancel_maker';
    const budgetOnly = qty === this.config.maxQty;
    let budget = quoteBudget;
    let needed = qty;
    let lastPrice = 0;
    for (let level = book.front; level !== undefined; level = level.worse) {
      if (!anyPrice && !book.reaches(level.price, limit)) return false;
      // Icebergs' hidden lots come after the level's makers (their refills join its back): once
      // the makers are walked, they are one more maker of the same price (NONE below).
      let hiddenHere = 0;
      for (let maker = level.head; ; maker = s.next[maker]!) {
        const isHidden = maker === NONE;
        if (isHidden && hiddenHere === 0) break;
        let take = needed;
        if (budget !== undefined) {
          take = lotsAffordable(budget, level.price);
          if (take === 0) return budgetOnly;
        }
        if (!isHidden && s.userId[maker] === userId) {
          if (skipOwn) continue;
          return false;
        }
        if (!isHidden) hiddenHere += this.hiddenOf(maker);
        const makerRemaining = isHidden ? hiddenHere : s.remaining[maker]!;
        if (needed < take) take = needed;
        // The budget runs out on this maker: less than one lot at its price is left.
        if (take < makerRemaining && take < needed) return budgetOnly;
        if (makerRemaining < take) take = makerRemaining;
        needed -= take;
        if (needed === 0) return true;
        if (budget !== undefined) budget -= take * level.price;
        lastPrice = level.price;
        if (isHidden) break;
      }
    }
    // The side ran out: a budget-only order is complete when what is left of its budget cannot buy
    // one lot at the last price it took (every later maker is at that price or worse).
    return budgetOnly && budget !== undefined && lastPrice > 0 && lotsAffordable(budget, lastPrice) === 0;
  }

  /** Whether a limit at `price` on the side in `flags` would take liquidity. */
  private crosses(flags: number, price: number): boolean {
    const book = isSell(flags) ? this.bids : this.asks;
    return book.front !== undefined && book.reaches(book.front.price, price);
  }

  private stopsOf(flags: number): PriceLadder {
    return isSell(flags) ? this.sellStops : this.buyStops;
  }

  /** The ladder an open order rests or waits on. */
  private ladderOf(slot: number): PriceLadder {
    return this.levels.get(this.store.level[slot]!).ladder;
  }

  /** Cancels an open order resting on a level or waiting as a stop. */
  private cancelOpen(slot: number, reason: CancelReason): void {
    this.ladderOf(slot).unlink(slot);
    const flags = this.store.flags[slot]!;
    if (isTrailing(flags)) this.trailsOf(flags).leave(slot, this.store.trail.get(slot)!);
    this.finish(slot, true, reason);
  }

  /** The order is done: canceled with `reason` (undefined when filled or already reported), slot freed. */
  private finish(slot: number, isOpen: boolean, reason: CancelReason | undefined): void {
    if (reason !== undefined) this.pushCanceled(slot, reason);
    this.breakLink(slot);
    if (isOpen) this.open.remove(slot);
    this.store.release(slot);
  }

  private pushCanceled(slot: number, reason: CancelReason): void {
    const s = this.store;
    this.events.push({
      type: 'canceled',
      orderId: s.orderId[slot]!,
      userId: s.userId[slot]!,
      remaining: s.remainingOf(slot),
      reason,
    });
  }

  private pushAmended(slot: number, priorityKept: boolean): void {
    const s = this.store;
    this.events.push({
      type: 'amended',
      orderId: s.orderId[slot]!,
      price: s.price[slot]!,
      qty: s.qty[slot]!,
      remaining: s.remainingOf(slot),
      priorityKept,
    });
  }

  private *ordersOn(ladder: PriceLadder): Generator<OpenOrder> {
    for (const slot of ladder.slots()) yield this.store.toOpenOrder(slot);
  }
}

/** Below this, q × price (q the float quotient, at most budget / price + 1) is exact in a double. */
const EXACT_PRODUCTS = 2 ** 52;

/**
 * floor(budget / price), exact for any safe integers. The rounded float quotient is the true one or
 * one more (it can round up across an integer, never down past one), which q × price > budget
 * detects while that product is exact; above that, BigInt (a microsecond an allocation, so only there).
 */
function lotsAffordable(budget: number, price: number): number {
  if (budget < EXACT_PRODUCTS) {
    const q = Math.floor(budget / price);
    return q * price > budget ? q - 1 : q;
  }
  return Number(BigInt(budget) / BigInt(price));
}
