import { createMarketMoney, MarketSpecError, type MarketMoney } from './money.ts';
import type { MarketDefinition } from './market/types.ts';

/*
 * The exchange's catalog: the assets it knows and the markets listed on them. It is configuration,
 * not trading state: an asset or market is written to the database before it is used, and the
 * journal's records refer to markets by id. Every check of a listing happens here, once.
 */

export const ASSET_KINDS = ['crypto', 'stable', 'rwa', 'fiat'] as const;
export type AssetKind = (typeof ASSET_KINDS)[number];

export interface Asset {
  readonly symbol: string;
  readonly decimals: number;
  readonly kind: AssetKind;
  /** The ERC-20 a stable or crypto asset is bound to on the exchange's chain (issue 16). */
  readonly contractAddress?: string;
}

/** A market as the catalog holds it: its definition with the money of its assets' decimals. */
export interface ListedMarket {
  readonly definition: MarketDefinition;
  readonly money: MarketMoney;
  readonly baseDecimals: number;
  readonly quoteDecimals: number;
}

export type CatalogResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly code: 'bad_request' | 'conflict' | 'not_found'; readonly message: string };

const ASSET_SYMBOL = /^[A-Z0-9]{1,16}$/;
const MAX_ASSET_DECIMALS = 36;

export class Catalog {
  private readonly assets = new Map<string, Asset>();
  private readonly byId = new Map<string, ListedMarket>();
  private readonly bySymbol = new Map<string, ListedMarket>();

  asset(symbol: string): Asset | undefined {
    return this.assets.get(symbol);
  }

  listAssets(): Asset[] {
    return [...this.assets.values()];
  }

  /** A market by id or by symbol (HTTP paths accept both). */
  market(idOrSymbol: string): ListedMarket | undefined {
    return this.bySymbol.get(idOrSymbol) ?? this.byId.get(idOrSymbol);
  }

  listMarkets(): ListedMarket[] {
    return [...this.byId.values()];
  }

  /** Checks a new asset; it is not added until `addAsset` (after it is stored). */
  checkAsset(asset: Asset): CatalogResult<Asset> {
    if (!ASSET_SYMBOL.test(asset.symbol)) {
      return fail(
        'bad_request',
        `asset symbol must be 1-16 of A-Z and 0-9, got ${JSON.stringify(asset.symbol)}`,
      );
    }
    if (!Number.isInteger(asset.decimals) || asset.decimals < 0 || asset.decimals > MAX_ASSET_DECIMALS) {
      return fail('bad_request', `asset decimals must be an integer from 0 to ${MAX_ASSET_DECIMALS}`);
    }
    if (this.assets.has(asset.symbol)) return fail('conflict', `asset ${asset.symbol} already exists`);
    if (asset.contractAddress !== undefined) {
      if (asset.kind !== 'stable' && asset.kind !== 'crypto')
        return fail(
          'bad_request',
          'only a stable or crypto asset is bound to a contract (an RWA gets its own)',
        );
      const bound = asset.contractAddress.toLowerCase();
      const taken = [...this.assets.values()].find((a) => a.contractAddress?.toLowerCase() === bound);
      if (taken !== undefined)
        return fail('conflict', `contract ${asset.contractAddress} is bound to ${taken.symbol} already`);
    }
    return { ok: true, value: asset };
  }

  addAsset(asset: Asset): void {
    const checked = this.checkAsset(asset);
    if (!checked.ok) throw new Error(checked.message);
    this.assets.set(asset.symbol, asset);
  }

  /**
   * Checks a market before listing: both assets known and distinct, symbol `BASE-QUOTE`, unused id
   * and symbol, fees in 0..1000 bps, and the money rules of PROTOCOL.md (tick decimals within
   * priceDecimals, qtyDecimals within the base asset's, price and qty decimals within the quote's).
   */
  checkMarket(definition: MarketDefinition, pending?: Asset): CatalogResult<ListedMarket> {
    const { id, symbol, baseAsset, quoteAsset } = definition;
    // `pending`: an asset being created with the market (an RWA registration adds both at once).
    const lookup = (s: string) => (pending?.symbol === s ? pending : this.assets.get(s));
    const base = lookup(baseAsset);
    const quote = lookup(quoteAsset);
    if (base === undefined) return fail('not_found', `unknown asset ${baseAsset}`);
    if (quote === undefined) return fail('not_found', `unknown asset ${quoteAsset}`);
    if (baseAsset === quoteAsset) return fail('bad_request', 'base and quote assets must differ');
    if (symbol !== `${baseAsset}-${quoteAsset}`) {
      return fail('bad_request', `market symbol must be ${baseAsset}-${quoteAsset}, got ${symbol}`);
    }
    if (this.bySymbol.has(symbol)) return fail('conflict', `market ${symbol} already exists`);
    if (this.byId.has(id) || this.bySymbol.has(id)) return fail('conflict', `market id ${id} already exists`);
    for (const [field, bps] of [
      ['makerFeeBps', definition.makerFeeBps],
      ['takerFeeBps', definition.takerFeeBps],
    ] as const) {
      if (!Number.isInteger(bps) || bps < 0 || bps > 1_000) {
        return fail('bad_request', `${field} must be an integer from 0 to 1000`);
      }
    }
    try {
      const money = createMarketMoney({
        ...definition.money,
        baseDecimals: base.decimals,
        quoteDecimals: quote.decimals,
      });
      return {
        ok: true,
        value: { definition, money, baseDecimals: base.decimals, quoteDecimals: quote.decimals },
      };
    } catch (error) {
      if (error instanceof MarketSpecError) return fail('bad_request', error.message);
      throw error;
    }
  }

  addMarket(definition: MarketDefinition): ListedMarket {
    const checked = this.checkMarket(definition);
    if (!checked.ok) throw new Error(checked.message);
    this.byId.set(definition.id, checked.value);
    this.bySymbol.set(definition.symbol, checked.value);
    return checked.value;
  }
}

function fail(code: 'bad_request' | 'conflict' | 'not_found', message: string): CatalogResult<never> {
  return { ok: false, code, message };
}
