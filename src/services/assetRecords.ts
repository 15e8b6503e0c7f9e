import type { MarketAssetRecord } from '../persistence/issuanceStore.ts';

/**
 * The registrations of RWA markets (market_assets), by market id and by token symbol: loaded at
 * start, kept by issuance as registrations and deployments change them, read by the compliance
 * gate (an asset's attributes) and the HTTP market views.
 */
export class AssetRecords {
  readonly #byMarket = new Map<string, MarketAssetRecord>();
  readonly #byToken = new Map<string, MarketAssetRecord>();

  constructor(records: readonly MarketAssetRecord[] = []) {
    for (const record of records) this.keep(record);
  }

  get(marketId: string): MarketAssetRecord | undefined {
    return this.#byMarket.get(marketId);
  }

  has(marketId: string): boolean {
    return this.#byMarket.has(marketId);
  }

  /** The registration that created the RWA asset `tokenSymbol`, if one did. */
  ofToken(tokenSymbol: string): MarketAssetRecord | undefined {
    return this.#byToken.get(tokenSymbol);
  }

  /** Every registration, in no particular order (the deployed tokens the chain sync follows). */
  all(): IterableIterator<MarketAssetRecord> {
    return this.#byMarket.values();
  }

  keep(record: MarketAssetRecord): void {
    this.#byMarket.set(record.marketId, record);
    this.#byToken.set(record.tokenSymbol, record);
  }
}
