/**
 * An order's state, derived from its events in one place: what each change does to it
 * (applyOrderChange) and the status it then has (statusOf). The publisher's tracked orders, the
 * projector's rows and the placement reply all follow orders through these two functions.
 */

import type {
  AmendedEvent,
  BookEvent,
  CanceledEvent,
  DecrementedEvent,
  FillEvent,
  PendingEvent,
  RestedEvent,
  TrailedEvent,
  TriggeredEvent,
} from '../actors/book/types.ts';
import type { AcceptedStatus, OrderStatus } from '../protocol/messages.ts';

/** A book event that changes an order the book accepted before (a fill changes two). */
export type OrderChange =
  | FillEvent
  | RestedEvent
  | PendingEvent
  | TriggeredEvent
  | CanceledEvent
  | AmendedEvent
  | DecrementedEvent
  | TrailedEvent;

/** The figures of an order its events change (the rest of what a consumer keeps is its own). */
export interface OrderProgress {
  price: number | null | undefined;
  qty: number;
  remaining: number;
  /** A stop waiting for its trigger. */
  pending: boolean;
  canceled: boolean;
  /** A stop's trigger price; a trailing stop's moves with its `trailed` events. */
  stopPrice?: number | null | undefined;
}

/** The effect of one change on the order `orderId` (which tells a fill's taker from its maker). */
export function applyOrderChange(order: OrderProgress, orderId: number, change: OrderChange): void {
  switch (change.type) {
    case 'fill':
      order.remaining = orderId === change.takerOrderId ? change.takerRemaining : change.makerRemaining;
      return;
    case 'rested':
      order.remaining = change.remaining;
      order.price = change.price;
      order.pending = false;
      return;
    case 'pending':
      order.pending = true;
      return;
    case 'triggered':
      order.pending = false;
      return;
    case 'canceled':
      order.remaining = change.remaining;
      order.canceled = true;
      order.pending = false;
      return;
    case 'amended':
      order.price = change.price;
      order.qty = change.qty;
      order.remaining = change.remaining;
      return;
    case 'decremented':
      order.qty -= change.qty;
      order.remaining = change.remaining;
      return;
    case 'trailed':
      order.stopPrice = change.stopPrice;
      if (change.price !== undefined) order.price = change.price;
      return;
  }
}

/** The statuses an accepted order can have (`rejected` is a placement's, never an order's). */
export type AcceptedOrderStatus = Exclude<OrderStatus, 'rejected'>;

/** The one status rule (PROTOCOL.md `order.status`). */
export function statusOf(order: OrderProgress): AcceptedOrderStatus {
  if (order.canceled) return 'canceled';
  if (order.pending) return 'pending_trigger';
  if (order.remaining === 0) return 'filled';
  return order.remaining < order.qty ? 'partially_filled' : 'open';
}

/** Whether the order has left the open set (filled or canceled): no event changes it again. */
export function isClosed(order: OrderProgress): boolean {
  return order.canceled || order.remaining === 0;
}

/** The `accepted` reply's figures for a placement, in lots. */
export interface PlacementSummary {
  readonly status: AcceptedStatus;
  readonly filledQty: number;
  /** Unfilled quantity: still open, or canceled (IOC remainder, STP); 0 when filled. */
  readonly remainingQty: number;
}

/**
 * The `accepted` reply's status and quantities of the order `orderId` placed by a command with
 * these events; undefined when they do not accept it. A pending stop is `open` here (its `order`
 * push says `pending_trigger`).
 */
export function placementSummary(
  events: readonly BookEvent[],
  orderId: number,
): PlacementSummary | undefined {
  let order: OrderProgress | undefined;
  for (const event of events) {
    if (event.type === 'accepted') {
      if (event.orderId === orderId) {
        order = { price: event.price, qty: event.qty, remaining: event.qty, pending: false, canceled: false };
      }
      continue;
    }
    if (order === undefined || event.type === 'level' || event.type === 'rejected') continue;
    if (
      event.type === 'fill'
        ? event.takerOrderId === orderId || event.makerOrderId === orderId
        : event.orderId === orderId
    ) {
      applyOrderChange(order, orderId, event);
    }
  }
  if (order === undefined) return undefined;
  const status = statusOf(order);
  return {
    status: status === 'pending_trigger' ? 'open' : status,
    filledQty: order.qty - order.remaining,
    remainingQty: order.remaining,
  };
}
