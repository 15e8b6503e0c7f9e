import type { LifecycleNotice } from '../../machines/marketLifecycle.ts';
import type { FillEvent, Side } from '../actors/book/types.ts';
import type { MarketMoney } from '../actors/money.ts';
import { formatUnits } from '../actors/money/decimal.ts';
import { wireOrderId } from '../events/ids.ts';
import { statusOf } from '../events/orders.ts';
import type { FillMessage, LifecycleMessage, OrderMessage } from '../protocol/messages.ts';
import type { MarketFeed, TrackedOrder } from './publisherFeed.ts';

/** The publisher's `order`, `fill` and `lifecycle` pushes (PROTOCOL.md), from a market's feed. */

/** What a trade and both of its fill pushes share. */
export interface FillFigures {
  readonly tradeId: string;
  readonly price: string;
  readonly qty: string;
  readonly ts: number;
}

export function fillMessage(
  market: MarketFeed,
  event: FillEvent,
  fill: FillFigures,
  orderId: number,
  side: Side,
  liquidity: 'maker' | 'taker',
): FillMessage {
  const { definition, funds } = market;
  // As settlement charges it: in the asset received, bps of the role, rounded up (feeOf).
  const bps = liquidity === 'maker' ? funds.makerFeeBps : funds.takerFeeBps;
  const buys = side === 'buy';
  const received = buys ? funds.base(event.qty) : funds.notional(event.price, event.qty);
  return {
    op: 'fill',
    orderId: wireOrderId(definition.id, orderId),
    tradeId: fill.tradeId,
    market: definition.symbol,
    side,
    price: fill.price,
    qty: fill.qty,
    fee: formatUnits(funds.fee(received, bps), buys ? market.baseDecimals : market.quoteDecimals),
    feeAsset: buys ? definition.baseAsset : definition.quoteAsset,
    liquidity,
    ts: fill.ts,
  };
}

export function orderMessage(market: MarketFeed, order: TrackedOrder): OrderMessage {
  const { money } = market;
  const filled = order.qty - order.remaining;
  return {
    op: 'order',
    orderId: order.id,
    ...(order.clientOrderId === undefined ? {} : { clientOrderId: order.clientOrderId }),
    market: market.definition.symbol,
    side: order.side,
    type: order.type,
    status: statusOf(order),
    ...(order.price === undefined ? {} : { price: money.formatPrice(order.price) }),
    ...(order.stopPrice === undefined ? {} : { stopPrice: money.formatPrice(order.stopPrice) }),
    qty: money.formatQty(order.qty),
    filledQty: money.formatQty(filled),
    remainingQty: money.formatQty(order.remaining),
    ...(filled === 0 || order.filledNotional === undefined
      ? {}
      : { avgPrice: averagePrice(money, order.filledNotional, filled) }),
    ts: order.ts,
  };
}

/** Σ price × qty / Σ qty as a price with priceDecimals, rounded half-up (PROTOCOL.md). */
export function averagePrice(money: MarketMoney, notional: bigint, filled: number): string {
  const units = notional * money.tickUnits; // in 10^-priceDecimals × lots
  const lots = BigInt(filled);
  return formatUnits((2n * units + lots) / (2n * lots), money.priceDecimals);
}

/**
 * A transition's push; it also moves the feed's lifecycle to the transition. Its `ts` is the
 * transition's own (the lifecycle event's, as the audit trail and a recovered lifecycle snapshot
 * have it), not the command's entry ts: the two agree when the caller stamps both from one clock,
 * and this way the snapshot after a restart says the same.
 */
export function lifecycleMessage(market: MarketFeed, notice: LifecycleNotice): LifecycleMessage {
  const { ts } = notice;
  market.lifecycle = { state: notice.to, seq: notice.seq, ts };
  const reason =
    notice.reason ?? (notice.event === 'lifecycle.deploy_failed' ? notice.deployError : undefined);
  return {
    op: 'lifecycle',
    market: market.definition.symbol,
    seq: notice.seq,
    from: notice.from,
    to: notice.to,
    event: notice.event,
    ts,
    actor: notice.actor.id,
    ...(reason === undefined ? {} : { reason }),
  };
}
