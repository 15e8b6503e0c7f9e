import type { z } from 'zod/v4';
import type { LifecycleState } from '../../../machines/marketLifecycle.ts';
import type { ListedMarket } from '../../actors/catalog.ts';
import { formatAssetAmount } from '../../actors/money.ts';
import type { OrderRecord, TradeRecord } from '../../services/history.ts';
import type { MarketAssetRecord } from '../../services/issuance.ts';
import type { Market, Order, Trade } from '../apiSchemas.ts';

/*
 * The JSON shapes of PROTOCOL.md's HTTP reads, built from the catalog and the projections: the
 * market object, and the WebSocket `trade` and `order` pushes without `op`.
 */

/** The market object (its schema, apiSchemas.ts `Market`, is what /api/v1/openapi.json publishes). */
export type MarketView = z.output<typeof Market>;

/** The market object; an RWA market adds its registration (issuance record) fields. */
export function marketView(
  market: ListedMarket,
  status: LifecycleState,
  record?: MarketAssetRecord,
): MarketView {
  const { definition, money } = market;
  const issued =
    record === undefined
      ? {}
      : {
          name: record.name,
          assetType: record.assetType,
          tokenSymbol: record.tokenSymbol,
          tokenName: record.tokenName,
          totalSupply: record.totalSupply,
          issuerId: record.issuerId,
          ...(record.contractAddress === undefined ? {} : { contractAddress: record.contractAddress }),
          ...(record.deploymentTxHash === undefined ? {} : { deploymentTxHash: record.deploymentTxHash }),
          ...(record.deployError === undefined ? {} : { deployError: record.deployError }),
          ...(record.rejectedReason === undefined ? {} : { rejectedReason: record.rejectedReason }),
          ...(record.approvedAt === undefined ? {} : { approvedAt: record.approvedAt }),
          ...(record.activatedAt === undefined ? {} : { activatedAt: record.activatedAt }),
        };
  return {
    ...issued,
    id: definition.id,
    symbol: definition.symbol,
    status,
    baseAsset: definition.baseAsset,
    quoteAsset: definition.quoteAsset,
    priceDecimals: money.priceDecimals,
    qtyDecimals: money.qtyDecimals,
    tickSize: money.tickSize,
    lotSize: money.lotSize,
    minQty: money.minQty,
    maxQty: money.maxQty,
    ...(money.minNotional === undefined ? {} : { minNotional: money.minNotional }),
    makerFeeBps: definition.makerFeeBps,
    takerFeeBps: definition.takerFeeBps,
  };
}

export function tradeView(
  market: ListedMarket,
  trade: TradeRecord,
  settlement?: { readonly settlement: 'pending' | 'settled' | 'failed'; readonly settlementTx?: string },
): z.output<typeof Trade> {
  return {
    market: market.definition.symbol,
    seq: trade.seq,
    tradeId: trade.id,
    price: market.money.formatPrice(trade.price),
    qty: market.money.formatQty(trade.qty),
    side: trade.takerSide,
    ts: trade.ts,
    ...settlement,
  };
}

export function orderView(market: ListedMarket, order: OrderRecord): z.output<typeof Order> {
  const { money } = market;
  return {
    orderId: order.id,
    ...(order.clientOrderId === undefined ? {} : { clientOrderId: order.clientOrderId }),
    market: market.definition.symbol,
    side: order.side,
    type: order.type,
    status: order.status,
    ...(order.price === undefined ? {} : { price: money.formatPrice(order.price) }),
    ...(order.stopPrice === undefined ? {} : { stopPrice: money.formatPrice(order.stopPrice) }),
    qty: money.formatQty(order.qty),
    filledQty: money.formatQty(order.filledQty),
    remainingQty: money.formatQty(order.remaining),
    ...(order.filledLots === 0
      ? {}
      : { avgPrice: averagePrice(market, order.filledNotional, order.filledLots) }),
    ts: order.updatedAt,
  };
}

/**
 * Σ(price × qty) / Σ qty, from tick × lot units to the market's price decimals, rounded half up
 * (PROTOCOL.md): units = notional × tickUnits / lots, all in bigint so nothing is lost on the way.
 */
export function averagePrice(market: ListedMarket, notionalTickLots: bigint, lots: number): string {
  const { money } = market;
  const divisor = BigInt(lots);
  const units = (2n * notionalTickLots * money.tickUnits + divisor) / (2n * divisor);
  return formatAssetAmount(units, money.priceDecimals);
}

/** A push object as the WebSocket sends it, without its `op` (HTTP reads answer these). */
export function withoutOp(message: object): Record<string, unknown> {
  const rest: Record<string, unknown> = { ...message };
  delete rest.op;
  return rest;
}
