import { randomUUID } from 'node:crypto';
import type { LifecycleActor, LifecycleEvent } from '../../machines/marketLifecycle.ts';
import type { Asset, Catalog, ListedMarket } from '../actors/catalog.ts';
import type { Ledger } from '../actors/ledger/index.ts';
import type { MarketDefinition } from '../actors/market/types.ts';
import { formatAssetAmount, parseAssetAmount } from '../actors/money.ts';
import type { LedgerEntry, Supervisor } from '../actors/supervisor.ts';
import { errorText, failure, success, type Outcome } from '../protocol/errors.ts';
import type { MarketBody } from '../protocol/schemas.ts';
import { marketDefinition } from './marketTerms.ts';

/** Where the catalog is stored (src/persistence/catalogStore.ts), handed in by the composition root. */
export interface CatalogWriter {
  insertAsset(asset: Asset): Promise<void>;
  insertMarket(market: MarketDefinition): Promise<void>;
}

export interface AdminOptions {
  readonly catalog: Catalog;
  readonly supervisor: Supervisor;
  /** Where a listing's lifecycle commands go (default the supervisor; a gateway's: the market's owner). */
  readonly submit?: Supervisor['submit'];
  /** Where credits go (default the supervisor; a gateway's: the `@ledger` owner engine). */
  readonly ledgerEntry?: LedgerEntry;
  readonly ledger: Ledger;
  readonly store: CatalogWriter;
  /** A market was added to the catalog and the supervisor (the publisher starts following it). */
  readonly onMarketAdded: (market: ListedMarket) => void;
  readonly clock?: () => number;
  /** Most open orders one market's book holds. */
  readonly maxOrdersPerMarket?: number;
}

export interface Credited {
  readonly userId: string;
  readonly asset: string;
  readonly amount: string;
  readonly available: string;
  readonly locked: string;
}

/**
 * Operator actions of PROTOCOL.md (HTTP, admin): define assets, list pairs directly (through the
 * lifecycle to `active` at once, every transition journaled and audited), credit accounts.
 * Catalog rows are stored before the exchange uses them; ledger effects go through the journal.
 */
export class Admin {
  private readonly clock: () => number;
  /** Listings in progress, so two concurrent listings of one symbol cannot both pass the check. */
  private readonly listing = new Set<string>();

  constructor(private readonly options: AdminOptions) {
    this.clock = options.clock ?? Date.now;
  }

  async createAsset(asset: Asset): Promise<Outcome<Asset>> {
    const { catalog, store, ledger } = this.options;
    const checked = catalog.checkAsset(asset);
    if (!checked.ok) return failure(checked.code, checked.message);
    if (this.listing.has(`asset:${asset.symbol}`))
      return failure('conflict', `asset ${asset.symbol} is being created`);
    this.listing.add(`asset:${asset.symbol}`);
    try {
      await store.insertAsset(asset);
    } catch (error) {
      return failure('unavailable', `the asset was not stored: ${errorText(error)}`);
    } finally {
      this.listing.delete(`asset:${asset.symbol}`);
    }
    catalog.addAsset(asset);
    ledger.defineAsset(asset.symbol, asset.decimals);
    return success(asset);
  }

  /** Lists a pair of existing assets, active at once; answers with the market once it is active. */
  async listMarket(body: MarketBody, actor: LifecycleActor): Promise<Outcome<ListedMarket>> {
    const { catalog, store, supervisor } = this.options;
    const definition = marketDefinition(
      {
        id: randomUUID(),
        symbol: body.symbol,
        baseAsset: body.baseAsset,
        quoteAsset: body.quoteAsset,
        maxOrders: this.options.maxOrdersPerMarket ?? 1_000_000,
      },
      body,
      defaultMaxQty(body.lotSize),
    );
    const checked = catalog.checkMarket(definition);
    if (!checked.ok) return failure(checked.code, checked.message);
    if (this.listing.has(definition.symbol))
      return failure('conflict', `market ${definition.symbol} is being listed`);
    this.listing.add(definition.symbol);
    try {
      await store.insertMarket(definition);
    } catch (error) {
      return failure('unavailable', `the market was not stored: ${errorText(error)}`);
    } finally {
      this.listing.delete(definition.symbol);
    }
    const listed = catalog.addMarket(definition);
    supervisor.addMarket(definition, {
      baseDecimals: listed.baseDecimals,
      quoteDecimals: listed.quoteDecimals,
    });
    this.options.onMarketAdded(listed);
    const activated = await this.activateDirectly(listed, actor);
    return activated.ok ? success(listed) : activated;
  }

  /** draft → pending_approval → approved → activating → active, each journaled. */
  async activateDirectly(market: ListedMarket, actor: LifecycleActor): Promise<Outcome<void>> {
    const ts = this.clock();
    const events: LifecycleEvent[] = [
      { type: 'lifecycle.submit', actor, ts },
      { type: 'lifecycle.approve', actor, ts, reason: 'listed directly by an admin' },
      { type: 'lifecycle.activate', actor, ts },
      { type: 'lifecycle.deployed', actor, ts, contractAddress: 'off-chain', txHash: 'none' },
    ];
    for (const event of events) {
      const { submit, supervisor } = this.options;
      const result = await (submit ?? supervisor.submit.bind(supervisor))(
        market.definition.symbol,
        { kind: 'lifecycle', event },
        ts,
      );
      if (!result.ok) return failure(result.code, result.message);
    }
    return success(undefined);
  }

  /** An off-chain deposit: ledger-posted, journaled (the `@ledger` record) and projected. */
  async credit(userId: string, assetSymbol: string, amountText: string): Promise<Outcome<Credited>> {
    const { catalog, supervisor, ledger } = this.options;
    const asset = catalog.asset(assetSymbol);
    if (asset === undefined) return failure('not_found', `unknown asset ${assetSymbol}`);
    const amount = parseAssetAmount(amountText, asset.decimals);
    if (!amount.ok) return failure('bad_request', amount.message);
    const result = await (this.options.ledgerEntry ?? supervisor).credit(
      userId,
      asset.symbol,
      amount.value,
      this.clock(),
    );
    if (!result.ok) return failure(result.code, result.message);
    const balance = ledger.balance(userId, asset.symbol);
    return success({
      userId,
      asset: asset.symbol,
      amount: formatAssetAmount(amount.value, asset.decimals),
      available: formatAssetAmount(balance.available, asset.decimals),
      locked: formatAssetAmount(balance.locked, asset.decimals),
    });
  }
}

/** Without a maxQty: the largest multiple of the lot a book can hold safely (2^33 lots, so a full book of a million orders still sums exactly). */
function defaultMaxQty(lotSize: string): string {
  const [int = '0', frac = ''] = lotSize.split('.');
  const units = BigInt(int + frac) * 2n ** 33n;
  const digits = units.toString().padStart(frac.length + 1, '0');
  return frac.length === 0 ? digits : `${digits.slice(0, -frac.length)}.${digits.slice(-frac.length)}`;
}
