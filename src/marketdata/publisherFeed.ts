import type { LifecycleContext, LifecycleState } from '../../machines/marketLifecycle.ts';
import type { BookView, FillEvent, OpenOrder, Side } from '../actors/book/types.ts';
import { MarketFunds } from '../actors/market/funds.ts';
import type { MarketDefinition } from '../actors/market/types.ts';
import type { MarketMoney } from '../actors/money.ts';
import { wireOrderId } from '../events/ids.ts';
import { applyOrderChange } from '../events/orders.ts';
import type { OrderType } from '../protocol/messages.ts';
import { topics } from '../protocol/topics.ts';
import { BookFeed } from './bookFeed.ts';

/**
 * The publisher's state per market (src/marketdata/publisher.ts): what a market is published
 * from when it joins, its feed (book, sequences, lifecycle) and the open orders it follows.
 */

/** A listed market: what money and fees it trades with (src/actors/catalog.ts `ListedMarket`). */
export interface PublishedListing {
  readonly definition: MarketDefinition;
  readonly money: MarketMoney;
  readonly baseDecimals: number;
  readonly quoteDecimals: number;
}

/** The market's committed state when it joins (a MarketActor after recovery, or a new one). */
export interface MarketSource {
  /** Levels and open orders. */
  readonly orderBook: BookView;
  /** The lifecycle state and context (seq = transitions taken, lastTransition's ts). */
  currentState(): {
    readonly lifecycle: { readonly state: LifecycleState; readonly context: LifecycleContext };
  };
  /**
   * The book seq and each open order's last-change ts and filled notional, folded from the
   * journal (MarketActor.orderActivity): a restart continues them (PROTOCOL v1.1).
   */
  readonly orderActivity?: OrderActivityView | undefined;
}

/** What the publisher reads of a market's OrderActivity (src/actors/market/orderActivity.ts). */
export interface OrderActivityView {
  readonly bookSeq: number;
  order(
    orderId: number,
  ): { readonly ts: number | undefined; readonly filledNotional: bigint | undefined } | undefined;
}

/** Counters for what the market's state does not say; all default to 0. */
export interface PublishedCounters {
  /** The book seq last published, when the source has no orderActivity. */
  readonly bookSeq?: number | undefined;
  /** The trade seq last published. */
  readonly tradeSeq?: number | undefined;
  /** `ts` of the order pushes of recovered open orders whose last change is not known. */
  readonly ts?: number | undefined;
}

/** An open order as the publisher follows it from its `accepted` (or the recovered book) to its end. */
export interface TrackedOrder {
  readonly marketId: string;
  readonly orderId: number;
  /** The wire id, `${marketId}:${orderId}`. */
  readonly id: string;
  readonly userId: string;
  readonly clientOrderId: string | undefined;
  readonly side: Side;
  readonly type: OrderType;
  price: number | undefined;
  stopPrice: number | undefined;
  qty: number;
  remaining: number;
  pending: boolean;
  canceled: boolean;
  /** Σ price × qty of its fills (tick×lot units); undefined when it filled before it was tracked. */
  filledNotional: bigint | undefined;
  ts: number;
}

export interface MarketFeed {
  readonly definition: MarketDefinition;
  /** `trades/SYMBOL`, built once. */
  readonly tradesTopic: string;
  readonly money: MarketMoney;
  readonly funds: MarketFunds;
  readonly book: BookFeed;
  readonly orders: Map<number, TrackedOrder>;
  readonly baseDecimals: number;
  readonly quoteDecimals: number;
  tradeSeq: number;
  lifecycle: { state: LifecycleState; seq: number; ts: number };
}

/** A market's feed from its committed state, following no orders yet. */
export function marketFeed(
  listed: PublishedListing,
  source: MarketSource,
  counters: PublishedCounters,
): MarketFeed {
  const { definition, money, baseDecimals, quoteDecimals } = listed;
  const book = source.orderBook;
  const { state, context } = source.currentState().lifecycle;
  return {
    definition,
    tradesTopic: topics.trades(definition.symbol),
    money,
    funds: new MarketFunds(
      money,
      baseDecimals,
      quoteDecimals,
      definition.makerFeeBps,
      definition.takerFeeBps,
    ),
    book: new BookFeed(
      money,
      { bids: book.depth('buy', 0), asks: book.depth('sell', 0) },
      { seq: source.orderActivity?.bookSeq ?? counters.bookSeq },
    ),
    orders: new Map(),
    baseDecimals,
    quoteDecimals,
    tradeSeq: counters.tradeSeq ?? 0,
    lifecycle: { state, seq: context.seq, ts: context.lastTransition?.ts ?? 0 },
  };
}

/** Marks an order as touched by the entry (its push follows the entry); undefined when not tracked. */
export function touchOrder(
  market: MarketFeed,
  touched: Map<number, TrackedOrder>,
  orderId: number,
  ts: number,
): TrackedOrder | undefined {
  const order = market.orders.get(orderId);
  if (order !== undefined) {
    order.ts = ts;
    touched.set(orderId, order);
  }
  return order;
}

/** A fill's effect on one of its orders. */
export function filled(order: TrackedOrder | undefined, orderId: number, event: FillEvent): void {
  if (order === undefined) return;
  applyOrderChange(order, orderId, event);
  if (order.filledNotional !== undefined) order.filledNotional += BigInt(event.price) * BigInt(event.qty);
}

/** A recovered open order; `facts` (from the market's activity) give its ts and fills' notional. */
export function recovered(
  marketId: string,
  open: OpenOrder,
  pending: boolean,
  facts: ReturnType<OrderActivityView['order']>,
  ts: number,
): TrackedOrder {
  return {
    marketId,
    orderId: open.orderId,
    id: wireOrderId(marketId, open.orderId),
    userId: open.userId,
    clientOrderId: open.clientOrderId,
    side: open.side,
    type: open.type,
    price: open.price,
    stopPrice: open.stopPrice,
    qty: open.qty,
    remaining: open.remaining,
    pending,
    canceled: false,
    // Without facts (a legacy snapshot) fills before recovery are unknown, so is their average.
    filledNotional: facts?.filledNotional ?? (open.remaining === open.qty ? 0n : undefined),
    ts: facts?.ts ?? ts,
  };
}
