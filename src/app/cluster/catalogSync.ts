import type { Logger } from 'pino';
import type { DatabasePool } from 'slonik';
import type { ListedMarket } from '../../actors/catalog.ts';
import { loadCatalog } from '../../persistence/catalogStore.ts';
import { loadComplianceRecords } from '../../persistence/complianceStore.ts';
import { loadMarketAssets } from '../../persistence/issuanceStore.ts';
import type { Core } from '../core.ts';

/*
 * Listings while the cluster runs (docs/scale-out.md, "Listings"): the catalog is Postgres's
 * (assets, markets, the issuers' asset records). A gateway that stores a listing publishes
 * `<cluster>.catalog`; every engine and gateway then loads what it does not know yet (`sync`), as
 * does a replica that meets a row of a market it does not know. A market added here starts in its
 * initial state and follows the journal like the others; the ownership loop places it at its next
 * round and its owner serves it. Compliance records (KYC, allowlisting) travel the same way: a
 * gateway that stores one announces it, and every process takes the stored records (an engine's
 * admission of RWA orders reads them).
 */

export class CatalogSync {
  private running: Promise<void> | undefined;
  /** Loads asked for; a load in progress answers those asked before it began. */
  private asked = 0;

  constructor(
    private readonly pool: DatabasePool,
    private readonly core: Core,
    private readonly options: {
      readonly log: Logger;
      readonly onMarketAdded?: (market: ListedMarket) => void;
    },
  ) {}

  /** Loads the assets, markets and asset records stored since; joins a load in progress (then loads again). */
  sync(): Promise<void> {
    this.asked++;
    if (this.running !== undefined) return this.running;
    this.running = (async () => {
      try {
        for (let done = 0; done < this.asked;) {
          done = this.asked;
          await this.load();
        }
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  private async load(): Promise<void> {
    const { catalog, ledger, supervisor, records, compliance } = this.core;
    // Stored after the in-memory change of the process that made it: the stored one is the latest.
    for (const record of await loadComplianceRecords(this.pool)) compliance.set(record);
    const stored = await loadCatalog(this.pool);
    for (const record of await loadMarketAssets(this.pool))
      if (!records.has(record.marketId)) records.keep(record);
    for (const asset of stored.assets) {
      if (catalog.asset(asset.symbol) !== undefined) continue;
      catalog.addAsset(asset);
      ledger.defineAsset(asset.symbol, asset.decimals);
      this.options.log.info({ asset: asset.symbol }, 'asset listed since this start');
    }
    for (const definition of stored.markets) {
      if (catalog.market(definition.id) !== undefined) continue;
      const listed = catalog.addMarket(definition);
      supervisor.addMarket(definition, {
        baseDecimals: listed.baseDecimals,
        quoteDecimals: listed.quoteDecimals,
      });
      this.options.onMarketAdded?.(listed);
      this.options.log.info(
        { market: definition.symbol, marketId: definition.id },
        'market listed since this start',
      );
    }
  }
}
