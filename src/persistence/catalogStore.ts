import { sql, type CommonQueryMethods, type DatabasePool, type FragmentSqlToken } from 'slonik';
import { z } from 'zod';
import { ASSET_KINDS, type Asset } from '../actors/catalog.ts';
import type { MarketDefinition } from '../actors/market/types.ts';

/**
 * The catalog's tables (migrations 1763800000010_catalog.sql, 1763800000071_market_min_notional.sql):
 * read at start, written at listing.
 */

const AssetRow = z.object({
  symbol: z.string(),
  decimals: z.number().int(),
  kind: z.enum(ASSET_KINDS),
  contract_address: z.string().nullable(),
});
const MarketRow = z.object({
  id: z.string(),
  symbol: z.string(),
  base_asset: z.string(),
  quote_asset: z.string(),
  price_decimals: z.number().int(),
  qty_decimals: z.number().int(),
  tick_size: z.string(),
  lot_size: z.string(),
  min_qty: z.string(),
  max_qty: z.string(),
  min_notional: z.string().nullable(),
  maker_fee_bps: z.number().int(),
  taker_fee_bps: z.number().int(),
  max_orders: z.number().int(),
});

export interface StoredCatalog {
  readonly assets: readonly Asset[];
  /** In listing order. */
  readonly markets: readonly MarketDefinition[];
}

export async function loadCatalog(pool: DatabasePool): Promise<StoredCatalog> {
  const assets = await pool.any(
    sql.type(
      AssetRow,
    )`SELECT symbol, decimals, kind, contract_address FROM assets ORDER BY created_at, symbol`,
  );
  const markets = await pool.any(sql.type(MarketRow)`
    SELECT id, symbol, base_asset, quote_asset, price_decimals, qty_decimals, tick_size, lot_size,
           min_qty, max_qty, min_notional, maker_fee_bps, taker_fee_bps, max_orders
    FROM markets ORDER BY created_at, id`);
  return {
    assets: assets.map((a) => ({
      symbol: a.symbol,
      decimals: a.decimals,
      kind: a.kind,
      ...(a.contract_address === null ? {} : { contractAddress: a.contract_address }),
    })),
    markets: markets.map((m) => ({
      id: m.id,
      symbol: m.symbol,
      baseAsset: m.base_asset,
      quoteAsset: m.quote_asset,
      money: {
        priceDecimals: m.price_decimals,
        qtyDecimals: m.qty_decimals,
        tickSize: m.tick_size,
        lotSize: m.lot_size,
        minQty: m.min_qty,
        maxQty: m.max_qty,
        ...(m.min_notional === null ? {} : { minNotional: m.min_notional }),
      },
      makerFeeBps: m.maker_fee_bps,
      takerFeeBps: m.taker_fee_bps,
      maxOrders: m.max_orders,
    })),
  };
}

export async function insertAsset(pool: CommonQueryMethods, asset: Asset): Promise<void> {
  await pool.query(sql.unsafe`${assetInsert(asset)}`);
}

/** The INSERT of an asset, as a fragment (also a data-modifying CTE of a registration). */
export function assetInsert(asset: Asset): FragmentSqlToken {
  return sql.fragment`
    INSERT INTO assets (symbol, decimals, kind, contract_address)
    VALUES (${asset.symbol}, ${asset.decimals}, ${asset.kind}, ${asset.contractAddress ?? null})`;
}

export async function insertMarket(pool: CommonQueryMethods, market: MarketDefinition): Promise<void> {
  await pool.query(sql.unsafe`${marketInsert(market)}`);
}

/** The INSERT of a market, as a fragment (also a data-modifying CTE of a registration). */
export function marketInsert(market: MarketDefinition): FragmentSqlToken {
  const { money } = market;
  return sql.fragment`
    INSERT INTO markets (id, symbol, base_asset, quote_asset, price_decimals, qty_decimals, tick_size,
                         lot_size, min_qty, max_qty, min_notional, maker_fee_bps, taker_fee_bps,
                         max_orders)
    VALUES (${market.id}, ${market.symbol}, ${market.baseAsset}, ${market.quoteAsset},
            ${money.priceDecimals}, ${money.qtyDecimals}, ${money.tickSize}, ${money.lotSize},
            ${money.minQty}, ${money.maxQty}, ${money.minNotional ?? null}, ${market.makerFeeBps}, ${market.takerFeeBps},
            ${market.maxOrders})`;
}
