import type { ListedMarket } from '../actors/catalog.ts';
import { MarketFunds } from '../actors/market/funds.ts';
import { formatUnits } from '../actors/money/decimal.ts';
import type { FillRecord } from '../persistence/userFills.ts';
import type { FillMessage } from '../protocol/messages.ts';

/*
 * A projected fill (GET /fills, issue 20) as the `fills` channel pushes it, without `op`: prices
 * and quantities with the market's decimals, and the fee from the market's rates, which are fixed
 * at listing, so it is the fee settlement charged (as the publisher computes it for the push).
 */

type FillView = Omit<FillMessage, 'op'>;

/** The fee in the asset received (a buyer's in base, a seller's in quote), rounded up (feeOf). */
export function fillView(market: ListedMarket, fill: FillRecord): FillView {
  const { definition, money, baseDecimals, quoteDecimals } = market;
  const funds = new MarketFunds(
    money,
    baseDecimals,
    quoteDecimals,
    definition.makerFeeBps,
    definition.takerFeeBps,
  );
  const buys = fill.side === 'buy';
  // In the asset received: a buyer pays in base, a seller in quote.
  const received = buys ? funds.base(fill.qty) : funds.notional(fill.price, fill.qty);
  const bps = fill.liquidity === 'maker' ? funds.makerFeeBps : funds.takerFeeBps;
  return {
    orderId: fill.orderId,
    tradeId: fill.tradeId,
    market: definition.symbol,
    side: fill.side,
    price: money.formatPrice(fill.price),
    qty: money.formatQty(fill.qty),
    fee: formatUnits(funds.fee(received, bps), buys ? baseDecimals : quoteDecimals),
    feeAsset: buys ? definition.baseAsset : definition.quoteAsset,
    liquidity: fill.liquidity,
    ts: fill.ts,
  };
}
