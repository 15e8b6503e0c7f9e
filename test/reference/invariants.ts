import type { BookEvent, BookView, OpenOrder, Side } from '../../src/actors/book/types.ts';

/**
 * Book invariants that must hold after every command, for the engine and the reference alike.
 * Each violation throws with a message naming the order or level, so a shrunk counterexample
 * points straight at the broken rule.
 */
export function checkInvariants(book: BookView): void {
  const { resting, stops } = book.openOrders();
  checkDepthSide(book, 'buy', resting);
  checkDepthSide(book, 'sell', resting);
  checkNotCrossed(book);
  checkRestingPriorityOrder(resting);
  for (const order of [...resting, ...stops]) checkRemaining(order);
  for (const order of resting) checkIceberg(order);
  for (const stop of stops) {
    if (stop.shownQty !== undefined) fail(`pending stop ${stop.orderId} shows a slice`);
  }
  for (const stop of stops) checkStopStillPending(stop, book.lastPrice);
  checkUniqueIds([...resting, ...stops]);
  checkOcoLists(resting, stops);
}

/**
 * Issue 14, OCO: a linked list is exactly an untouched limit leg resting (orderId = listId) and its
 * stop leg pending, one user, one side, one qty: either leg filling, triggering or ending unlinks
 * both, so a list with one leg, or a leg that traded, is a broken rule.
 */
function checkOcoLists(resting: readonly OpenOrder[], stops: readonly OpenOrder[]): void {
  const lists = new Map<number, { limit?: OpenOrder; stop?: OpenOrder }>();
  for (const order of resting) {
    if (order.listId === undefined) continue;
    if (order.orderId !== order.listId || order.type !== 'limit')
      fail(`resting OCO leg ${order.orderId} is not its list's limit`);
    lists.set(order.listId, { ...lists.get(order.listId), limit: order });
  }
  for (const order of stops) {
    if (order.listId === undefined) continue;
    lists.set(order.listId, { ...lists.get(order.listId), stop: order });
  }
  for (const [listId, { limit, stop }] of lists) {
    if (limit === undefined || stop === undefined) fail(`OCO list ${listId} has one linked leg`);
    for (const leg of [limit, stop]) {
      if (leg.remaining !== leg.qty) fail(`OCO leg ${leg.orderId} traded but is still linked`);
    }
    if (limit.userId !== stop.userId || limit.side !== stop.side || limit.qty !== stop.qty) {
      fail(`OCO list ${listId}: legs differ in user, side or qty`);
    }
  }
}

function fail(message: string): never {
  throw new Error(`book invariant violated: ${message}`);
}

function checkDepthSide(book: BookView, side: Side, resting: readonly OpenOrder[]): void {
  const levels = book.depth(side, 0);
  const expected = new Map<number, number>();
  for (const order of resting) {
    if (order.side !== side) continue;
    if (order.price === undefined) fail(`resting ${side} order ${order.orderId} has no price`);
    // Only what an order shows counts: an iceberg's hidden lots are never on a level.
    expected.set(order.price, (expected.get(order.price) ?? 0) + (order.shownQty ?? order.remaining));
  }
  levels.forEach(([price, total], i) => {
    if (!(total > 0)) fail(`${side} level ${price} has total ${total}`);
    const sum = expected.get(price);
    if (sum !== total) fail(`${side} level ${price} total ${total} != sum of its resting orders ${sum ?? 0}`);
    const previous = levels[i - 1];
    if (previous !== undefined && !(side === 'buy' ? previous[0] > price : previous[0] < price)) {
      fail(`${side} depth not sorted best first: ${previous[0]} before ${price}`);
    }
  });
  if (levels.length !== expected.size) {
    fail(`${side} depth has ${levels.length} levels but resting orders sit on ${expected.size} prices`);
  }
  const best = side === 'buy' ? book.bestBid() : book.bestAsk();
  if (best !== levels[0]?.[0]) fail(`best ${side} ${best} != first depth level ${levels[0]?.[0]}`);
}

function checkNotCrossed(book: BookView): void {
  const bid = book.bestBid();
  const ask = book.bestAsk();
  if (bid !== undefined && ask !== undefined && !(bid < ask))
    fail(`book crossed: best bid ${bid} >= ask ${ask}`);
}

/** openOrders().resting: bids best first, then asks best first. */
function checkRestingPriorityOrder(resting: readonly OpenOrder[]): void {
  resting.forEach((order, i) => {
    const previous = resting[i - 1];
    if (previous === undefined) return;
    const rank = (o: OpenOrder) => (o.side === 'buy' ? 0 : 1);
    const sorted =
      rank(previous) < rank(order) ||
      (rank(previous) === rank(order) &&
        (order.side === 'buy' ? previous.price! >= order.price! : previous.price! <= order.price!));
    if (!sorted) fail(`resting orders out of priority order: ${previous.orderId} before ${order.orderId}`);
  });
}

function checkRemaining(order: OpenOrder): void {
  if (!Number.isSafeInteger(order.remaining) || order.remaining <= 0 || order.remaining > order.qty) {
    fail(`order ${order.orderId} has remaining ${order.remaining} of qty ${order.qty}`);
  }
}

/** A resting iceberg shows a slice of 1..displayQty lots, some of its remaining; others show none. */
function checkIceberg(order: OpenOrder): void {
  const { orderId, displayQty, shownQty, remaining } = order;
  if ((displayQty === undefined) !== (shownQty === undefined)) {
    fail(`resting order ${orderId} has displayQty ${displayQty} but shownQty ${shownQty}`);
  }
  if (displayQty === undefined || shownQty === undefined) return;
  if (!Number.isSafeInteger(shownQty) || shownQty <= 0 || shownQty > displayQty || shownQty > remaining) {
    fail(`iceberg ${orderId} shows ${shownQty} of remaining ${remaining} (displayQty ${displayQty})`);
  }
}

function checkStopStillPending(stop: OpenOrder, lastPrice: number | null): void {
  if (stop.stopPrice === undefined) fail(`pending stop ${stop.orderId} has no stopPrice`);
  if (lastPrice === null) return;
  const waiting = stop.side === 'buy' ? stop.stopPrice > lastPrice : stop.stopPrice < lastPrice;
  if (!waiting) {
    fail(`${stop.side} stop ${stop.orderId} at ${stop.stopPrice} should have triggered at last ${lastPrice}`);
  }
}

function checkUniqueIds(open: readonly OpenOrder[]): void {
  const orderIds = new Set<number>();
  const clientIds = new Set<string>();
  for (const order of open) {
    if (orderIds.has(order.orderId)) fail(`order ${order.orderId} is open twice`);
    orderIds.add(order.orderId);
    if (order.clientOrderId === undefined) continue;
    const key = JSON.stringify([order.userId, order.clientOrderId]);
    if (clientIds.has(key))
      fail(`user ${order.userId} has two open orders with clientOrderId ${order.clientOrderId}`);
    clientIds.add(key);
  }
}

/** What the event stream says about one accepted order. */
interface OrderAccount {
  qty: number;
  remaining: number;
  filled: number;
  canceled: number;
  closed: boolean;
}

/**
 * Quantity conservation over an event stream that starts from an empty book: every accepted order's
 * qty (as last amended) = filled + canceled remaining + remaining still open in `book`; every
 * reported remainder matches the running count and is never negative; closed orders stay closed.
 */
export function checkQuantityConservation(events: readonly BookEvent[], book: BookView): void {
  const accounts = new Map<number, OrderAccount>();
  const account = (orderId: number, context: string): OrderAccount => {
    const found = accounts.get(orderId);
    if (found === undefined) fail(`${context} names order ${orderId}, which was never accepted`);
    if (found.closed) fail(`${context} names order ${orderId}, which was already closed`);
    return found;
  };
  for (const event of events) applyEvent(event, accounts, account);

  const open = new Map<number, OpenOrder>();
  const { resting, stops } = book.openOrders();
  for (const order of [...resting, ...stops]) open.set(order.orderId, order);
  for (const [orderId, a] of accounts) {
    const stillOpen = open.get(orderId);
    const openRemaining = stillOpen?.remaining ?? 0;
    if (a.qty !== a.filled + a.canceled + openRemaining) {
      fail(
        `order ${orderId}: qty ${a.qty} != filled ${a.filled} + canceled ${a.canceled} + open ${openRemaining}`,
      );
    }
    if (!a.closed && a.remaining > 0 && stillOpen === undefined) {
      fail(`order ${orderId} has ${a.remaining} left but no closing event and is not open`);
    }
    if (
      stillOpen !== undefined &&
      (a.closed || stillOpen.remaining !== a.remaining || stillOpen.qty !== a.qty)
    ) {
      fail(
        `open order ${orderId} (qty ${stillOpen.qty}, remaining ${stillOpen.remaining}) disagrees with its events`,
      );
    }
  }
  for (const orderId of open.keys()) {
    if (!accounts.has(orderId)) fail(`open order ${orderId} was never accepted`);
  }
}

function applyEvent(
  event: BookEvent,
  accounts: Map<number, OrderAccount>,
  account: (orderId: number, context: string) => OrderAccount,
): void {
  switch (event.type) {
    case 'accepted':
      if (accounts.has(event.orderId)) fail(`order ${event.orderId} accepted twice`);
      accounts.set(event.orderId, {
        qty: event.qty,
        remaining: event.qty,
        filled: 0,
        canceled: 0,
        closed: false,
      });
      return;
    case 'fill': {
      if (!(event.qty > 0)) fail(`fill of ${event.takerOrderId} with qty ${event.qty}`);
      for (const [orderId, reported] of [
        [event.takerOrderId, event.takerRemaining],
        [event.makerOrderId, event.makerRemaining],
      ] as const) {
        const a = account(orderId, 'fill');
        a.remaining -= event.qty;
        a.filled += event.qty;
        if (a.remaining < 0 || reported !== a.remaining) {
          fail(`fill reports ${reported} left on order ${orderId}, expected ${a.remaining}`);
        }
        if (a.remaining === 0) a.closed = true;
      }
      return;
    }
    case 'canceled': {
      const a = account(event.orderId, 'canceled');
      if (!(event.remaining > 0) || event.remaining !== a.remaining) {
        fail(`canceled reports ${event.remaining} left on order ${event.orderId}, expected ${a.remaining}`);
      }
      a.canceled += event.remaining;
      a.remaining = 0;
      a.closed = true;
      return;
    }
    case 'amended': {
      const a = account(event.orderId, 'amended');
      if (!(event.remaining > 0) || event.qty - event.remaining !== a.filled) {
        fail(
          `amended order ${event.orderId} to qty ${event.qty} remaining ${event.remaining}, filled ${a.filled}`,
        );
      }
      a.qty = event.qty;
      a.remaining = event.remaining;
      return;
    }
    case 'decremented': {
      const a = account(event.orderId, 'decremented');
      if (!(event.qty > 0) || !(event.remaining > 0) || event.remaining !== a.remaining - event.qty) {
        fail(`decremented order ${event.orderId} by ${event.qty} to ${event.remaining}, had ${a.remaining}`);
      }
      a.qty -= event.qty;
      a.remaining = event.remaining;
      return;
    }
    case 'rested': {
      const a = account(event.orderId, 'rested');
      if (!(event.remaining > 0) || event.remaining !== a.remaining) {
        fail(`rested reports ${event.remaining} on order ${event.orderId}, expected ${a.remaining}`);
      }
      return;
    }
    case 'pending':
    case 'triggered':
      account(event.orderId, event.type);
      return;
    case 'level':
      if (!(event.qty >= 0)) fail(`level ${event.side} ${event.price} reports qty ${event.qty}`);
      return;
    case 'rejected':
      return;
  }
}

/** Replaying every `level` event of a stream that starts from an empty book must rebuild its depth. */
export function checkLevelEventsMatchDepth(events: readonly BookEvent[], book: BookView): void {
  const totals = new Map<string, number>();
  for (const event of events) {
    if (event.type !== 'level') continue;
    const key = `${event.side} ${event.price}`;
    if (totals.get(key) === event.qty)
      fail(`level event for ${key} repeats the unchanged total ${event.qty}`);
    totals.set(key, event.qty);
  }
  for (const side of ['buy', 'sell'] as const) {
    for (const [price, total] of book.depth(side, 0)) {
      if (totals.get(`${side} ${price}`) !== total)
        fail(`depth ${side} ${price} = ${total} but level events say ${totals.get(`${side} ${price}`)}`);
    }
  }
  for (const [key, total] of totals) {
    const [side, price] = key.split(' ');
    const inDepth = book.depth(side === 'buy' ? 'buy' : 'sell', 0).some(([p]) => String(p) === price);
    if (total > 0 && !inDepth) fail(`level events leave ${key} at ${total} but it is not in depth`);
  }
}
