import type { z } from 'zod/v4';
import type { MarketDefinition } from '../actors/market/types.ts';
import type { TradingTerms } from '../protocol/schemas.ts';

/** A market's definition from the trading terms of a listing or a registration. */
export function marketDefinition(
  market: { id: string; symbol: string; baseAsset: string; quoteAsset: string; maxOrders: number },
  terms: z.infer<typeof TradingTerms>,
  defaultMaxQty: string,
): MarketDefinition {
  return {
    id: market.id,
    symbol: market.symbol,
    baseAsset: market.baseAsset,
    quoteAsset: market.quoteAsset,
    money: {
      priceDecimals: terms.priceDecimals,
      qtyDecimals: terms.qtyDecimals,
      tickSize: terms.tickSize,
      lotSize: terms.lotSize,
      minQty: terms.minQty,
      maxQty: terms.maxQty ?? defaultMaxQty,
      minNotional: terms.minNotional,
    },
    makerFeeBps: terms.makerFeeBps ?? 0,
    takerFeeBps: terms.takerFeeBps ?? 0,
    maxOrders: market.maxOrders,
  };
}
