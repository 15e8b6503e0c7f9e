import type { Logger } from 'pino';
import { Catalog } from '../actors/catalog.ts';
import { ComplianceRegistry } from '../actors/compliance.ts';
import { Ledger } from '../actors/ledger/index.ts';
import { Supervisor, type ActorInspection } from '../actors/supervisor.ts';
import type { Config } from '../config.ts';
import { Fanout } from '../events/fanout.ts';
import { CommittedEventStream } from '../events/stream.ts';
import { loadCatalog } from '../persistence/catalogStore.ts';
import { loadComplianceRecords } from '../persistence/complianceStore.ts';
import { loadMarketAssets } from '../persistence/issuanceStore.ts';
import { durableMarketRebuild } from '../persistence/marketRebuild.ts';
import { recover, type RecoveryStats } from '../persistence/recovery.ts';
import { rwaAdmission } from '../services/admission.ts';
import { AssetRecords } from '../services/assetRecords.ts';
import { supervisorObserver } from '../transport/http/metrics.ts';
import type { Storage } from './storage.ts';

/**
 * Stages 3 and 4 of the composition root: the ledger, the catalog and the compliance records as
 * stored; the supervisor with its markets under the journal writer; recovery from the journal.
 * The supervisor's committed batches go to the committed event stream (src/events/stream.ts),
 * whose consumers the next stage subscribes; its inspection events to a fanout.
 */
export interface Core {
  readonly ledger: Ledger;
  readonly catalog: Catalog;
  readonly compliance: ComplianceRegistry;
  readonly records: AssetRecords;
  readonly supervisor: Supervisor;
  /** Every committed batch, in commit order, after its commit, folded into domain events once. */
  readonly committed: CommittedEventStream;
  readonly inspections: Fanout<ActorInspection>;
  readonly recovered: RecoveryStats;
}

export async function buildCore(
  config: Config,
  log: Logger,
  storage: Pick<Storage, 'pool' | 'writer'>,
): Promise<Core> {
  const { pool, writer } = storage;
  const ledger = new Ledger();
  const catalog = new Catalog();
  const compliance = new ComplianceRegistry(await loadComplianceRecords(pool));
  const records = new AssetRecords(await loadMarketAssets(pool));
  const committed = new CommittedEventStream();
  const inspections = new Fanout<ActorInspection>();
  const supervisor = new Supervisor({
    ledger,
    sink: writer,
    mailboxSize: config.MAILBOX_SIZE,
    inspect: inspections.emit,
    observe: supervisorObserver,
    rebuildMarket: durableMarketRebuild(pool),
    admit: rwaAdmission({ catalog, compliance, records }),
    publish: (batch) => {
      committed.publish(batch);
    },
  });
  const stored = await loadCatalog(pool);
  for (const asset of stored.assets) {
    catalog.addAsset(asset);
    ledger.defineAsset(asset.symbol, asset.decimals);
  }
  for (const definition of stored.markets) {
    const listed = catalog.addMarket(definition);
    supervisor.addMarket(definition, {
      baseDecimals: listed.baseDecimals,
      quoteDecimals: listed.quoteDecimals,
    });
  }
  const recovered = await recover(pool, { ledger, supervisor });
  log.info({ ...recovered, markets: stored.markets.length }, 'recovered from the journal');
  return { ledger, catalog, compliance, records, supervisor, committed, inspections, recovered };
}
