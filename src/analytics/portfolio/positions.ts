import type { ListedMarket } from '../../actors/catalog.ts';
import { MarketFunds } from '../../actors/market/funds.ts';
import type { DomainEvent } from '../../events/domain.ts';

/*
 * Positions from fills (issue 18, Portfolio): per user, per asset bought and the quote asset it was
 * paid in, the quantity held from fills, its cost (what was paid, so the fee the buyer paid in the
 * base asset is in the average: it got less for the same money), and the PnL sells realized.
 *
 *   buy  (receives base − fee, pays quote):     qty += base − fee;  cost += quote
 *   sell (delivers base, receives quote − fee):  covered = min(base, qty)
 *                                                released = cost × covered / qty (rounded down)
 *                                                qty −= covered; cost −= released
 *                                                realized += (quote − fee) − released
 * A sell past the quantity from fills (holdings deposited, never bought here) has no cost: it
 * realizes all it brings. avgPrice = cost / qty. Every amount is a bigint of the asset's minor
 * units, and the fees are the ledger's own (feeOf on the market's maker/taker bps), so the
 * positions agree with the balances the same fills moved.
 */

export interface Position {
  readonly userId: string;
  readonly asset: string;
  readonly quoteAsset: string;
  readonly qty: bigint;
  readonly cost: bigint;
  readonly realized: bigint;
  /** Fills that changed it. */
  readonly fills: number;
}

/** One side of a fill, as it changes its user's position. */
export interface Leg {
  readonly userId: string;
  readonly asset: string;
  readonly quoteAsset: string;
  readonly side: 'buy' | 'sell';
  /** Base minor units bought or sold. */
  readonly base: bigint;
  /** Quote minor units paid or received before the fee. */
  readonly quote: bigint;
  /** The fee, in the asset received (base for a buy, quote for a sell). */
  readonly fee: bigint;
  readonly ts: number;
}

export const positionKey = (userId: string, asset: string, quoteAsset: string): string =>
  `${userId}\u0000${asset}\u0000${quoteAsset}`;

export function emptyPosition(userId: string, asset: string, quoteAsset: string): Position {
  return { userId, asset, quoteAsset, qty: 0n, cost: 0n, realized: 0n, fills: 0 };
}

export function applyLeg(position: Position, leg: Leg): Position {
  if (leg.side === 'buy')
    return {
      ...position,
      qty: position.qty + leg.base - leg.fee,
      cost: position.cost + leg.quote,
      fills: position.fills + 1,
    };
  const covered = leg.base < position.qty ? leg.base : position.qty;
  const released = position.qty === 0n ? 0n : (position.cost * covered) / position.qty;
  return {
    ...position,
    qty: position.qty - covered,
    cost: position.cost - released,
    realized: position.realized + (leg.quote - leg.fee) - released,
    fills: position.fills + 1,
  };
}

/** A market's terms for legs: its funds (units and fee rates) and assets. */
export interface LegTerms {
  readonly funds: MarketFunds;
  readonly baseAsset: string;
  readonly quoteAsset: string;
}

export function legTermsOf(listed: ListedMarket): LegTerms {
  const { definition } = listed;
  return {
    funds: new MarketFunds(
      listed.money,
      listed.baseDecimals,
      listed.quoteDecimals,
      definition.makerFeeBps,
      definition.takerFeeBps,
    ),
    baseAsset: definition.baseAsset,
    quoteAsset: definition.quoteAsset,
  };
}

/** The two legs of each fill among `events`, in order (buyer first). */
export function legsOf(events: readonly DomainEvent[], terms: LegTerms): Leg[] {
  const legs: Leg[] = [];
  const { funds, baseAsset, quoteAsset } = terms;
  for (const event of events) {
    if (event.type !== 'fill') continue;
    const fill = event.fill;
    const takerBuys = fill.takerSide === 'buy';
    const base = funds.base(fill.qty);
    const quote = funds.notional(fill.price, fill.qty);
    const buyerBps = takerBuys ? funds.takerFeeBps : funds.makerFeeBps;
    const sellerBps = takerBuys ? funds.makerFeeBps : funds.takerFeeBps;
    const common = { asset: baseAsset, quoteAsset, base, quote, ts: event.ts };
    legs.push({
      ...common,
      userId: takerBuys ? fill.takerUserId : fill.makerUserId,
      side: 'buy',
      fee: funds.fee(base, buyerBps),
    });
    legs.push({
      ...common,
      userId: takerBuys ? fill.makerUserId : fill.takerUserId,
      side: 'sell',
      fee: funds.fee(quote, sellerBps),
    });
  }
  return legs;
}
